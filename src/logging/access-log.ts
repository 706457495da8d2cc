/**
 * The access log: one `info` line per request the gateway's router took on, written when its answer is done (or the
 * client went away), and one per WebSocket upgrade, written when the socket closes (forwarded) or right after the
 * refusal. Cookies, headers and tokens are never read into it; the query string only with `query: true`, redacted.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { createClientIpResolver } from '../request/client-ip.ts';
import { getRequestContext, type RequestStep } from '../request/context.ts';
import type { Logger } from './logger.ts';
import { redactQuery } from './query-redaction.ts';

/** The `msg` of every access line, and its `component`: what a log pipeline selects them by. */
export const ACCESS_LOG_MESSAGE = 'request';
export const ACCESS_LOG_COMPONENT = 'access';

/** Longer paths are cut here (with `…`): a line stays a line whatever the client sent. */
export const MAX_LOGGED_PATH_CHARS = 2048;

/** One access line's fields, by their stable names. Absent: not known for this request. */
export interface AccessLine {
  /** The X-Request-Id the gateway gave the request (absent for robots.txt, answered before the request has one). */
  readonly requestId?: string;
  /** The id of the published app the Host selected. */
  readonly app?: string;
  readonly method: string;
  /** The path as received, without the query string. */
  readonly path: string;
  /** Only with `logging.accessLog.query`: the query string without `?`, secret parameters' values redacted. */
  readonly query?: string;
  /** 101 for a forwarded WebSocket (the backend's status when it refused the handshake). */
  readonly status: number;
  /** Body bytes written to the client (for WebSockets: every byte on the socket, handshake included). */
  readonly bytes: number;
  /** From the request reaching the gateway to the last byte of its answer (for WebSockets: until the socket closed). */
  readonly durationMs: number;
  /** The signed-in user's `sub`, once the session gate admitted the request. */
  readonly user?: string;
  /** As the request context resolved it: the socket's peer, or X-Forwarded-For read through `trustedProxies`. */
  readonly clientIp: string;
  /** The step of the request path that answered. */
  readonly step: RequestStep;
  /** Present (true) on WebSocket upgrades. */
  readonly websocket?: true;
  /** Present (true) when the client went away before the whole answer was written. */
  readonly aborted?: true;
}

export interface AccessLogOptions {
  /** The gateway's logger: the access log writes on a child of it, `{ component: 'access' }`. */
  readonly logger: Logger;
  /** Log the query string (redacted); default false. */
  readonly query?: boolean;
  /** For requests answered before they have a context (robots.txt). */
  readonly trustedProxies: readonly string[];
  /** With `next`, requests for hosts that publish no app belong to the host application and are not logged. */
  readonly unknownHost: 'reject' | 'next';
}

export interface AccessLog {
  /** Mounted first in the request path. */
  readonly http: (req: IncomingMessage, res: ServerResponse, next: () => void) => void;
  /** Called by the upgrade handler for each upgrade it takes on, before its steps run. */
  readonly upgrade: (req: IncomingMessage, socket: Duplex) => void;
}

/** The step that answered: the one recorded last on the context; without a context, the robots denier (the only step before it). */
export function answeringStep(req: IncomingMessage): RequestStep {
  const context = getRequestContext(req);
  return context ? (context.step ?? 'upstream') : 'robots';
}

export function createAccessLog(options: AccessLogOptions): AccessLog {
  const log = options.logger.child({ component: ACCESS_LOG_COMPONENT });
  const clientIp = createClientIpResolver(options.trustedProxies);
  const write = (req: IncomingMessage, fields: { status: number; bytes: number; start: number; websocket?: boolean; aborted?: boolean }): void => {
    const context = getRequestContext(req);
    if (options.unknownHost === 'next' && context && !context.app) return;
    const target = (req as { originalUrl?: string }).originalUrl ?? req.url ?? '';
    const mark = target.indexOf('?');
    const line: AccessLine = {
      ...(context ? { requestId: context.requestId } : {}),
      ...(context?.app ? { app: context.app.id } : {}),
      method: req.method ?? '',
      path: cut(mark === -1 ? target : target.slice(0, mark)),
      ...(options.query && mark !== -1 ? { query: cut(redactQuery(target.slice(mark + 1))) } : {}),
      status: fields.status,
      bytes: fields.bytes,
      durationMs: Math.round((performance.now() - fields.start) * 10) / 10,
      ...(context?.identity ? { user: context.identity.sub } : {}),
      clientIp: context?.clientIp ?? clientIp(req),
      step: answeringStep(req),
      ...(fields.websocket ? { websocket: true } : {}),
      ...(fields.aborted ? { aborted: true } : {}),
    };
    log.info(line, ACCESS_LOG_MESSAGE);
  };

  return {
    http(req, res, next) {
      if (!log.isLevelEnabled('info')) {
        next();
        return;
      }
      const start = performance.now();
      const bytes = countBodyBytes(res);
      res.once('close', () => {
        const bodyless = req.method === 'HEAD' || res.statusCode === 204 || res.statusCode === 304;
        write(req, { status: res.statusCode, bytes: bodyless ? 0 : bytes(), start, aborted: !res.writableFinished });
      });
      next();
    },
    upgrade(req, socket) {
      if (!log.isLevelEnabled('info')) return;
      const start = performance.now();
      const seen = watchSocket(socket);
      socket.once('close', () => write(req, { status: seen.status() ?? 0, bytes: seen.bytes(), start, websocket: true }));
    },
  };
}

function cut(text: string): string {
  return text.length > MAX_LOGGED_PATH_CHARS ? `${text.slice(0, MAX_LOGGED_PATH_CHARS)}…` : text;
}

type Chunk = string | Uint8Array;

function sizeOf(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  return chunk instanceof Uint8Array ? chunk.byteLength : 0;
}

/** Counts what goes through `write` and `end` from now on: the body, whoever writes it (Express, the proxy's pipe). */
function countBodyBytes(res: ServerResponse): () => number {
  let bytes = 0;
  const write = res.write.bind(res) as (...args: unknown[]) => boolean;
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  res.write = ((chunk: Chunk, ...rest: unknown[]) => {
    bytes += sizeOf(chunk, rest[0]);
    return write(chunk, ...rest);
  }) as ServerResponse['write'];
  res.end = ((chunk?: unknown, ...rest: unknown[]) => {
    if (typeof chunk !== 'function') bytes += sizeOf(chunk, rest[0]);
    return end(chunk, ...rest);
  }) as ServerResponse['end'];
  return () => bytes;
}

/** The status of the first response head written on an upgraded socket (ours or the backend's), and the bytes written. */
function watchSocket(socket: Duplex): { status(): number | undefined; bytes(): number } {
  let bytes = 0;
  let status: number | undefined;
  const see = (chunk: unknown, encoding: unknown): void => {
    const size = sizeOf(chunk, encoding);
    if (size === 0) return;
    if (bytes === 0) status = statusOf(chunk);
    bytes += size;
  };
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  const end = socket.end.bind(socket) as (...args: unknown[]) => Duplex;
  socket.write = ((chunk: unknown, ...rest: unknown[]) => {
    see(chunk, rest[0]);
    return write(chunk, ...rest);
  }) as Duplex['write'];
  socket.end = ((chunk?: unknown, ...rest: unknown[]) => {
    if (typeof chunk !== 'function') see(chunk, rest[0]);
    return end(chunk, ...rest);
  }) as Duplex['end'];
  return { status: () => status, bytes: () => bytes };
}

function statusOf(chunk: unknown): number | undefined {
  const head = typeof chunk === 'string' ? chunk.slice(0, 16) : chunk instanceof Uint8Array ? Buffer.from(chunk.subarray(0, 16)).toString('latin1') : '';
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(head);
  return match ? Number(match[1]) : undefined;
}

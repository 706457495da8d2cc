/**
 * Sends one request to the backend and relays its answer, on Node's own
 * `http.request`: the gateway's forwarder. The proxy library it replaced
 * cost up to 15 % more of the gateway's CPU per request, measured in pairs
 * beside it (docs/benchmarks.md, "What would close the gap"), on options and
 * events Gatehouse never used. What reaches the backend and what comes back are still decided
 * by the caller (the request's headers, the response head filter); this
 * module keeps the exchange honest: the body's framing, the two sides'
 * lifetimes, and errors that never leave a client waiting.
 */
import { request as httpRequest, type Agent, type ClientRequest, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { performance } from 'node:perf_hooks';

/** Where requests go: the app's internal URL, read once. */
export interface ForwardTarget {
  readonly protocol: 'http:' | 'https:';
  readonly hostname: string;
  readonly port: number;
  /** `host:port` as the Host header names it, for apps that want their internal name. */
  readonly host: string;
  /** The internal URL's path without its trailing slash ('' for none), put before every request target. */
  readonly basePath: string;
  /** The internal URL's query, added to every request's. */
  readonly search: string;
}

export function forwardTarget(internalUrl: string): ForwardTarget {
  const url = new URL(internalUrl);
  const protocol = url.protocol === 'https:' ? 'https:' : 'http:';
  return {
    protocol,
    // A bracketed IPv6 literal in a URL is a bare address for the socket.
    hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
    port: url.port === '' ? (protocol === 'https:' ? 443 : 80) : Number(url.port),
    host: url.host,
    basePath: url.pathname === '/' ? '' : url.pathname.replace(/\/$/, ''),
    search: url.search,
  };
}

/** The request target sent to the backend: the base path, then the client's target (always starting with a slash), then the base query. */
export function upstreamPath(target: ForwardTarget, url: string): string {
  const path = url.startsWith('/') ? url : `/${url}`;
  if (target.search === '') return target.basePath + path;
  const joined = target.basePath + path;
  return joined.includes('?') ? joined.replace('?', `${target.search}&`) : joined + target.search;
}

/** What the caller decides, once per app: the hooks take each exchange's parts, so no request builds its own. */
export interface ForwardHooks {
  /** The request to the backend exists (timers). */
  readonly started: (upstream: ClientRequest) => void;
  /** The backend's head arrived, `startedAt` (performance.now()) after the request was made: the headers to answer with. */
  readonly head: (res: ServerResponse, upstream: ClientRequest, response: IncomingMessage, startedAt: number) => OutgoingHttpHeaders;
  /** The exchange failed before or after the head; the caller answers or cuts the client's response. */
  readonly failed: (req: IncomingMessage, res: ServerResponse, error: Error) => void;
}

/**
 * Forwards `req` with `headers` (already what the backend may see) through `agent`, and pipes the answer into `res`.
 */
export function forwardRequest(
  req: IncomingMessage,
  res: ServerResponse,
  target: ForwardTarget,
  headers: OutgoingHttpHeaders,
  agent: Agent,
  hooks: ForwardHooks,
): ClientRequest {
  // A DELETE or OPTIONS without a body says so: some servers wait for a length otherwise.
  if ((req.method === 'DELETE' || req.method === 'OPTIONS') && headers['content-length'] === undefined && headers['transfer-encoding'] === undefined)
    headers['content-length'] = '0';
  // A chunked request body ends the backend connection after it: its framing is the part a desynchronized backend would misread.
  if (headers['transfer-encoding'] !== undefined) headers['connection'] = 'close';
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const startedAt = performance.now();
  const upstream = send({
    protocol: target.protocol,
    hostname: target.hostname,
    port: target.port,
    method: req.method,
    path: upstreamPath(target, req.url ?? '/'),
    headers,
    agent,
  });
  hooks.started(upstream);

  let failed = false;
  const fail = (error: Error): void => {
    if (failed) return;
    failed = true;
    // The client went away: nobody is left to tell.
    if ((error as NodeJS.ErrnoException).code === 'ECONNRESET' && !req.socket.writable) {
      upstream.destroy();
      return;
    }
    hooks.failed(req, res, error);
  };
  upstream.on('error', fail);
  req.on('error', fail);
  // The client's answer closed before it was complete (the client left): the exchange with the backend ends with it.
  res.once('close', () => {
    if (!res.writableFinished || !upstream.writableFinished) upstream.destroy();
  });

  upstream.once('response', (response) => {
    if (!upstream.writableFinished) drainAfterEarlyAnswer(req, upstream, response);
    if (res.headersSent || res.destroyed) {
      response.destroy();
      return;
    }
    const head = hooks.head(res, upstream, response, startedAt);
    const status = response.statusCode ?? 502;
    // No body framing on answers without a body, nor towards a client that cannot read chunks.
    if (req.httpVersion === '1.0' || status === 204 || status === 304) delete head['transfer-encoding'];
    for (const [name, value] of Object.entries(head)) {
      if (value === undefined) continue;
      try {
        res.setHeader(name, value);
      } catch {
        // A header Node will not write (an invalid character from the backend) is left out, not a failed answer.
      }
    }
    res.statusCode = status;
    if (response.statusMessage) res.statusMessage = response.statusMessage;
    res.once('close', () => response.destroy());
    // The backend's answer ended before it was complete: the client's is cut too, never passed off as whole.
    response.once('close', () => {
      if (!response.complete && !res.destroyed) res.destroy();
    });
    response.once('error', (error) => {
      if (!res.destroyed) res.destroy(error);
    });
    response.pipe(res);
  });
  req.pipe(upstream);
  return upstream;
}

/**
 * The backend answered before the whole request body was sent: what is left of the body is read and dropped rather than
 * left in the client's connection, and the request to the backend ends once its answer has.
 */
function drainAfterEarlyAnswer(req: IncomingMessage, upstream: ClientRequest, response: IncomingMessage): void {
  let drained = false;
  const drain = (): void => {
    if (drained) return;
    drained = true;
    req.unpipe(upstream);
    req.resume();
  };
  response.once('end', () => {
    if (!upstream.writableFinished) drain();
  });
  response.once('close', () => {
    if (upstream.writableFinished) return;
    drain();
    upstream.destroy();
  });
}

/**
 * Whether the connector serves one CONNECT stream from the service: the
 * stream must name an app id (never a host:port), the app must be in the
 * configuration the connector applied, and its address inside the local
 * allow-list when there is one (the configuration comes from the service:
 * only the allow-list bounds what a compromised service can make it dial).
 * A refused stream is answered with a status and `gatehouse-error`, and
 * logged with the request id.
 */
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { OnReadOpts } from 'node:net';
import type { Logger } from '../logging/logger.ts';
import { appIdOfConnect, HEADER_APP, HEADER_ERROR, HEADER_REQUEST_ID, isRequestId, REFUSAL_STATUS, type TunnelRefusal } from '../protocol/tunnel-wire.ts';
import type { TargetAllowList } from './allow-list.ts';
import { OriginError, type ConnectOriginOptions, type ResolvedApp } from './origin.ts';

export interface StreamAdmissionOptions {
  /** The applied configuration's allow-list: the app's internal URL, or undefined for any other id. */
  readonly resolveApp: (appId: string) => ResolvedApp | undefined;
  /** The connector's local allow-list of targets; absent: any address the configuration names. */
  readonly allowList?: TargetAllowList;
  /** Dials the app. */
  readonly connectOrigin: (app: ResolvedApp, options: ConnectOriginOptions) => Promise<Duplex>;
  readonly originConnectTimeoutMs: number;
  readonly log?: Logger;
}

/** A CONNECT stream that names an app of the configuration. */
export interface ConnectTarget {
  readonly appId: string;
  readonly app: ResolvedApp;
  readonly requestId: string | undefined;
}

/** Attacker-controlled text is cut to this length before it is logged. */
const LOGGED_TEXT_LENGTH = 256;

function loggable(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  const text = Array.isArray(value) ? value.join(',') : value;
  return text.length > LOGGED_TEXT_LENGTH ? `${text.slice(0, LOGGED_TEXT_LENGTH)}…` : text;
}

/** host:port of an internal URL, for the connector's own log. */
function targetOf(internalUrl: string): string {
  try {
    const url = new URL(internalUrl);
    return `${url.hostname}:${url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : url.port}`;
  } catch {
    return 'invalid';
  }
}

/** Answers a refused stream; the service sends nothing before a 200, so anything it does send is dropped. */
export function refuseStream(stream: ServerHttp2Stream, refusal: TunnelRefusal): void {
  if (stream.closed || stream.destroyed) return;
  stream.respond({ ':status': REFUSAL_STATUS[refusal], [HEADER_ERROR]: refusal }, { endStream: true });
  stream.resume();
}

/** The checks made before anything is dialled: the app the stream names, or why it is refused. */
export function checkConnect(headers: IncomingHttpHeaders, options: StreamAdmissionOptions): ConnectTarget | { readonly refusal: TunnelRefusal } {
  const log = options.log;
  const requestId = isRequestId(headers[HEADER_REQUEST_ID]) ? headers[HEADER_REQUEST_ID] : undefined;
  if (headers[':method'] !== 'CONNECT') {
    log?.warn({ method: loggable(headers[':method']), requestId }, 'refused a stream that is not a CONNECT');
    return { refusal: 'bad_method' };
  }
  const appId = appIdOfConnect(headers[':authority'], headers[HEADER_APP]);
  if (appId === undefined) {
    log?.warn({ authority: loggable(headers[':authority']), app: loggable(headers[HEADER_APP]), requestId }, 'refused a CONNECT that does not name an app');
    return { refusal: 'bad_target' };
  }
  const app = options.resolveApp(appId);
  if (!app) {
    log?.warn({ app: appId, requestId }, "refused a CONNECT for an app outside this connector's configuration");
    return { refusal: 'unknown_app' };
  }
  return { appId, app, requestId };
}

/**
 * Dials the stream's app. Resolves with the app's connection, with the
 * refusal to answer when it cannot be reached (or the allow-list refuses its
 * address), or with undefined when the stream closed first (nothing to answer).
 */
export async function dialTarget(
  stream: ServerHttp2Stream,
  target: ConnectTarget,
  options: StreamAdmissionOptions,
  onread?: OnReadOpts,
): Promise<Duplex | TunnelRefusal | undefined> {
  const abort = new AbortController();
  const onEarlyClose = (): void => abort.abort();
  stream.once('close', onEarlyClose);
  const { appId, app, requestId } = target;
  try {
    const origin = await options.connectOrigin(app, {
      timeoutMs: options.originConnectTimeoutMs,
      signal: abort.signal,
      ...(options.allowList ? { allowList: options.allowList } : {}),
      ...(onread ? { onread } : {}),
    });
    if (stream.closed || stream.destroyed) {
      origin.destroy();
      return undefined;
    }
    return origin;
  } catch (error) {
    if (abort.signal.aborted) return undefined;
    const refusal = error instanceof OriginError ? error.refusal : 'origin_refused';
    const code = error instanceof OriginError ? error.code : (error as NodeJS.ErrnoException | undefined)?.code;
    if (refusal === 'target_refused') {
      // The operator's log names the address; the service only learns the refusal.
      options.log?.warn({ app: appId, requestId, refusal, target: targetOf(app.internalUrl) }, "refused a target outside the connector's allow-list");
    } else {
      options.log?.warn({ app: appId, requestId, refusal, code }, 'could not reach the app');
    }
    return refusal;
  } finally {
    stream.off('close', onEarlyClose);
  }
}

/**
 * The connector's connection to an app: TCP to an http internal URL, TLS to
 * an https one (with the app's own CA bundle and server name, so nobody has
 * to turn verification off for a self-signed internal app).
 * The address always comes from the connector's applied configuration,
 * never from the stream that asked for it; with a local allow-list
 * (allow-list.ts) it must also be inside that list, checked before any
 * connection is opened.
 */
import { connect as netConnect, isIP, type LookupFunction, type OnReadOpts, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { TUNNEL_ORIGIN_CONNECT_TIMEOUT_MS } from '../limits.ts';
import { TARGET_NOT_ALLOWED, type TargetAllowList } from './allow-list.ts';

export interface OriginTls {
  /** PEM bundle that signs the app's certificate; default the system roots. */
  readonly ca?: string;
  /** Name to verify (and send as SNI); default the URL's host name. */
  readonly servername?: string;
  /** Verification is always on; the field exists so a config can say so, never the opposite. */
  readonly rejectUnauthorized?: true;
}

/** What the connector's configuration says about one app. */
export interface ResolvedApp {
  /** "http://10.0.0.5:8080" or "https://intranet.corp:8443"; path and query are ignored. */
  readonly internalUrl: string;
  readonly tls?: OriginTls;
}

/** `target_refused`: the connector's own allow-list does not allow the address; nothing was dialled. */
export type OriginFailure = 'origin_refused' | 'origin_timeout' | 'origin_tls' | 'target_refused';

export class OriginError extends Error {
  readonly refusal: OriginFailure;
  /** The Node or OpenSSL error code, for logs. */
  readonly code: string;

  constructor(refusal: OriginFailure, code: string, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'OriginError';
    this.refusal = refusal;
    this.code = code;
  }
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new DOMException('The operation was aborted', 'AbortError');
}

export interface ConnectOriginOptions {
  /** TCP connect and TLS handshake together. Default TUNNEL_ORIGIN_CONNECT_TIMEOUT_MS. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** The connector's local allow-list; absent: any address the configuration names. */
  readonly allowList?: TargetAllowList;
  /** How the connection delivers what it reads, decrypted for https (origin-reads.ts): never as 'data'. */
  readonly onread?: OnReadOpts;
}

interface OriginAddress {
  readonly secure: boolean;
  readonly host: string;
  readonly port: number;
}

function parseInternalUrl(value: string): OriginAddress | OriginError {
  let url: URL;
  try {
    url = new URL(value);
  } catch (error) {
    return new OriginError('origin_refused', 'bad_internal_url', 'The internal URL in the configuration is not a URL.', error);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return new OriginError('origin_refused', 'bad_internal_url', 'The internal URL in the configuration is not http(s).');
  }
  const secure = url.protocol === 'https:';
  return {
    secure,
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port === '' ? (secure ? 443 : 80) : Number(url.port),
  };
}

/**
 * Connects to the app and resolves once bytes can flow (after the TLS
 * handshake for https). Rejects with an OriginError saying which of
 * refused, timed out or TLS went wrong, or with the signal's reason.
 */
export function connectOrigin(app: ResolvedApp, options: ConnectOriginOptions = {}): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const address = parseInternalUrl(app.internalUrl);
    if (address instanceof OriginError) {
      reject(address);
      return;
    }
    const { signal, allowList } = options;
    if (signal?.aborted) {
      reject(abortError(signal));
      return;
    }
    // A name the list allows as a name is dialled as usual; any other name
    // only at the addresses it resolves to that the list allows.
    let lookup: LookupFunction | undefined;
    if (allowList && !allowList.allowsHost(address.host, address.port)) {
      if (isIP(address.host) !== 0) {
        reject(new OriginError('target_refused', TARGET_NOT_ALLOWED, "The app's address is outside the connector's allow-list."));
        return;
      }
      lookup = allowList.guardedLookup(address.port);
    }
    // Half-open both ways: a client that finished its request still reads the answer.
    // (tls.connect passes allowHalfOpen and onread on to its TLSSocket; its typings omit them.)
    const tlsOptions: ConnectionOptions & { allowHalfOpen: boolean; onread?: OnReadOpts } = {
      host: address.host,
      port: address.port,
      // SNI cannot carry an IP address (RFC 6066 §3).
      ...(app.tls?.servername !== undefined ? { servername: app.tls.servername } : isIP(address.host) === 0 ? { servername: address.host } : {}),
      ...(app.tls?.ca !== undefined ? { ca: app.tls.ca } : {}),
      rejectUnauthorized: true,
      ALPNProtocols: ['http/1.1'],
      allowHalfOpen: true,
      ...(lookup ? { lookup } : {}),
      ...(options.onread ? { onread: options.onread } : {}),
    };
    const socket: Socket = address.secure
      ? tlsConnect(tlsOptions)
      : netConnect({
          host: address.host,
          port: address.port,
          allowHalfOpen: true,
          ...(lookup ? { lookup } : {}),
          ...(options.onread ? { onread: options.onread } : {}),
        });
    let tcpConnected = false;
    const settle = (): void => {
      clearTimeout(timer);
      socket.off('connect', onTcp);
      socket.off(address.secure ? 'secureConnect' : 'connect', onReady);
      socket.off('error', onError);
      signal?.removeEventListener('abort', onAbort);
      // The caller's pipeline reports errors from here on; this keeps one
      // arriving before it is attached from going unhandled.
      socket.on('error', () => undefined);
    };
    const fail = (error: Error): void => {
      settle();
      socket.destroy();
      reject(error);
    };
    const onTcp = (): void => {
      tcpConnected = true;
    };
    const onReady = (): void => {
      settle();
      socket.setNoDelay(true);
      resolve(socket);
    };
    const onError = (error: NodeJS.ErrnoException): void => {
      const code = error.code ?? 'unknown';
      if (code === TARGET_NOT_ALLOWED) {
        fail(new OriginError('target_refused', code, "The app's address is outside the connector's allow-list.", error));
      } else if (address.secure && tcpConnected) {
        fail(new OriginError('origin_tls', code, `TLS with the app failed: ${error.message}`, error));
      } else {
        fail(new OriginError('origin_refused', code, `The app could not be reached: ${error.message}`, error));
      }
    };
    const onAbort = (): void => fail(abortError(signal as AbortSignal));
    const timeoutMs = options.timeoutMs ?? TUNNEL_ORIGIN_CONNECT_TIMEOUT_MS;
    const timer = setTimeout(
      () => fail(new OriginError('origin_timeout', 'timeout', `The app did not accept a connection within ${timeoutMs} ms.`)),
      timeoutMs,
    );
    socket.once('connect', onTcp);
    socket.once(address.secure ? 'secureConnect' : 'connect', onReady);
    socket.on('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

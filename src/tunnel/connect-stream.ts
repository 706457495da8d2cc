/**
 * One CONNECT stream on a tunnel, from the request to the connector's answer:
 * the headers that name the app, and the wait for 200 (a StreamSocket) or a
 * refusal, a reset, a timeout or the caller's abort (a TunnelError or the
 * abort reason). The tunnel session decides whether a stream may be opened;
 * this module only runs one.
 */
import { constants, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import type { Duplex } from 'node:stream';
import { StreamSocket } from './stream-socket.ts';
import { TunnelError } from '../errors/tunnel-error.ts';
import { appAuthority, HEADER_APP, HEADER_ERROR, HEADER_REQUEST_ID, isRequestId } from '../protocol/tunnel-wire.ts';
import { refusalError } from './refusal-error.ts';

const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM } = constants;

function noop(): void {}

export function closedError(connectorId: string, reason: string, cause?: unknown): TunnelError {
  return new TunnelError('ERR_TUNNEL_CLOSED', 'The tunnel to the connector is closed.', { beforeUpstream: true, reason, connectorId, cause });
}

export function streamLimitError(connectorId: string): TunnelError {
  return new TunnelError('ERR_TUNNEL_STREAM_LIMIT', 'The tunnel carries as many streams as it may.', {
    beforeUpstream: true,
    reason: 'stream_limit',
    connectorId,
  });
}

export function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new DOMException('The operation was aborted', 'AbortError');
}

/** The request headers of a CONNECT stream to `appId`. */
export function connectHeaders(appId: string, requestId: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {
    ':method': 'CONNECT',
    ':authority': appAuthority(appId),
    [HEADER_APP]: appId,
  };
  if (isRequestId(requestId)) headers[HEADER_REQUEST_ID] = requestId;
  return headers;
}

export interface ConnectAnswerOptions {
  readonly connectorId: string;
  readonly appId: string;
  /** The tunnel's transport, whose peer address the stream socket reports. */
  readonly transport: Duplex;
  readonly openTimeoutMs: number;
  readonly signal: AbortSignal | undefined;
  /** Why the tunnel stopped taking streams (the socket then closes once idle); undefined while it takes them. */
  readonly tunnelClosing: () => string | undefined;
  /** Called with the socket before the promise resolves, so the tunnel can count it at once. */
  readonly onSocket: (socket: StreamSocket) => void;
}

/**
 * Waits for the connector's answer on a CONNECT stream just opened. Rejected
 * only once the stream is gone, so that the tunnel's count of open streams is
 * exact when the caller picks a tunnel again.
 */
export function awaitConnectAnswer(h2: ClientHttp2Stream, options: ConnectAnswerOptions): Promise<StreamSocket> {
  const { connectorId, signal } = options;
  return new Promise<StreamSocket>((resolve, reject) => {
    const settle = (): void => {
      clearTimeout(timer);
      h2.off('response', onResponse);
      h2.off('error', onError);
      h2.off('close', onClose);
      signal?.removeEventListener('abort', onAbort);
    };
    const fail = (error: Error): void => {
      settle();
      // Errors after we gave up on the stream have nobody to report to.
      h2.on('error', noop);
      if (h2.destroyed) {
        reject(error);
        return;
      }
      h2.once('close', () => reject(error));
      if (!h2.closed) h2.close(NGHTTP2_CANCEL);
    };
    const onResponse = (answer: IncomingHttpHeaders): void => {
      const status = Number(answer[':status']);
      if (status !== 200) {
        fail(refusalError(status, answer[HEADER_ERROR], connectorId));
        return;
      }
      const remote = options.transport as Duplex & { remoteAddress?: string; remotePort?: number };
      const socket = new StreamSocket(h2, {
        connectorId,
        appId: options.appId,
        remoteAddress: remote.remoteAddress,
        remotePort: remote.remotePort,
        tunnelClosing: options.tunnelClosing,
      });
      options.onSocket(socket);
      settle();
      resolve(socket);
    };
    const onError = (error: NodeJS.ErrnoException): void => {
      const refused = h2.rstCode === NGHTTP2_REFUSED_STREAM;
      fail(closedError(connectorId, refused ? 'refused_stream' : (error.code ?? 'stream_error'), error));
    };
    const onClose = (): void => fail(closedError(connectorId, h2.rstCode === NGHTTP2_REFUSED_STREAM ? 'refused_stream' : 'stream_closed'));
    const onAbort = (): void => fail(abortReason(signal as AbortSignal));
    // The connector gives up on the app sooner (TUNNEL_ORIGIN_CONNECT_TIMEOUT_MS): this one means it is silent.
    const timer = setTimeout(
      () =>
        fail(
          new TunnelError('ERR_TUNNEL_ORIGIN_TIMEOUT', 'The connector did not answer in time.', {
            beforeUpstream: true,
            reason: 'connector_timeout',
            connectorId,
          }),
        ),
      options.openTimeoutMs,
    );
    h2.once('response', onResponse);
    h2.once('error', onError);
    h2.once('close', onClose);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

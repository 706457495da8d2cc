/**
 * An upgraded connection spliced to the backend, byte for byte both ways.
 * When the backend's side ends without the backend's own close frame (the
 * backend died, the connector died or shut down, the stream timed out), the
 * client is sent a close frame saying so instead of a bare TCP close, which
 * a browser reports as 1006 (abnormal closure) with no reason: 1011 for a
 * failure, 1001 for a shutdown on purpose or a timeout. The frame can only go
 * in at a frame boundary; a backend that died in the middle of a frame
 * leaves nothing to do but close.
 */
import type { Duplex } from 'node:stream';
import { lingeringClose } from '../errors/lingering-close.ts';
import { isTunnelError } from '../errors/tunnel-error.ts';
import { BACKEND_TIMEOUT } from './backend-idle.ts';
import { closeFrame } from './websocket-close-frame.ts';
import { FrameCursor } from './websocket-frames.ts';

export interface WebSocketCloseReason {
  /** 1001 going away (a shutdown on purpose, a timeout), 1011 server error (something failed). */
  readonly code: 1001 | 1011;
  /** Short: the whole frame must stay under 126 bytes. */
  readonly reason: string;
}

/** What the client is told when the backend's side ended with `error` (none: it closed its connection) and no close frame. */
export function closeReasonFor(error: Error | undefined): WebSocketCloseReason {
  if (isTunnelError(error)) {
    if (error.reason === 'tunnel_drained_by_connector') return { code: 1001, reason: 'connector shutting down' };
    if (error.reason === 'tunnel_drained') return { code: 1001, reason: 'going away' };
    if (error.code === 'ERR_TUNNEL_CLOSED') return { code: 1011, reason: 'connector connection lost' };
  }
  if (error !== undefined && 'code' in error && error.code === BACKEND_TIMEOUT) return { code: 1001, reason: 'backend idle timeout' };
  return { code: 1011, reason: error === undefined ? 'backend closed the connection' : 'backend connection lost' };
}

/** Splices `client` and `upstream`, first writing `upstreamHead` (what the backend sent after its 101) to the client. */
export function spliceWebSocket(client: Duplex, upstream: Duplex, upstreamHead: Buffer): void {
  // Follows what the backend sends, from its first frame on (the 101 head went out before).
  const cursor = new FrameCursor({ afterHead: true });
  let finished = false;
  const backendGone = (error?: Error): void => {
    if (finished) return;
    finished = true;
    // What the client still sends (its answer to the close frame) has nowhere to go.
    client.unpipe(upstream);
    upstream.destroy();
    if (client.destroyed) return;
    if (!cursor.closeSeen) {
      if (!cursor.atBoundary || !client.writable) {
        client.destroy();
        return;
      }
      const { code, reason } = closeReasonFor(error);
      client.write(closeFrame(code, reason));
    }
    // The close frame is out (the backend's or ours): the client answers and closes, or the linger ends it.
    lingeringClose(client);
  };
  upstream.on('data', (chunk: Buffer) => cursor.advance(chunk, false));
  upstream.once('end', () => backendGone());
  upstream.on('error', backendGone);
  upstream.once('close', () => backendGone());
  client.on('error', () => {
    client.destroy();
    upstream.destroy();
  });
  client.once('close', () => upstream.destroy());
  if (upstreamHead.length > 0) {
    cursor.advance(upstreamHead, false);
    client.write(upstreamHead);
  }
  // The client's end is written by backendGone, after a close frame if one is due.
  upstream.pipe(client, { end: false });
  client.pipe(upstream);
}

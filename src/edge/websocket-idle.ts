/**
 * The WebSocket idle timeout: a forwarded WebSocket on which no byte went
 * either way for the configured time is closed with 1001. Any frame counts,
 * pings and pongs included, so a client (or a backend) that pings keeps its
 * socket. Activity is read from the client socket's byte counters a few times
 * per timeout rather than from each frame: nothing is added on the data path,
 * and a socket is closed between one and one and a quarter timeouts after its
 * last byte.
 */
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { closeFrame } from '../forwarding/websocket-close-frame.ts';
import { WEBSOCKET_IDLE_CLOSE_GRACE_MS } from '../limits.ts';

/** The byte counters of a socket (net.Socket and tls.TLSSocket have them). */
interface Counted {
  readonly bytesRead: number;
  readonly bytesWritten: number;
}

/** Close code 1001 ("going away") with a short reason, server to client (unmasked). */
const IDLE_CLOSE_FRAME = closeFrame(1001, 'idle timeout');

/** Checks per timeout: a socket is closed at most a quarter of a timeout late. */
const CHECKS_PER_TIMEOUT = 4;

function counted(socket: Duplex): socket is Duplex & Counted {
  const bytes = socket as Partial<Counted>;
  return typeof bytes.bytesRead === 'number' && typeof bytes.bytesWritten === 'number';
}

/**
 * Closes `socket` once it has been idle for `timeoutMs`, then calls `onIdle`.
 * Stops by itself when the socket closes. A socket without byte counters is
 * not watched.
 */
export function closeWhenIdle(socket: Duplex, timeoutMs: number, onIdle?: () => void): void {
  if (!counted(socket) || socket.destroyed) return;
  let seen = socket.bytesRead + socket.bytesWritten;
  let quietSince = performance.now();
  const timer = setInterval(
    () => {
      const now = socket.bytesRead + socket.bytesWritten;
      if (now !== seen) {
        seen = now;
        quietSince = performance.now();
        return;
      }
      if (performance.now() - quietSince < timeoutMs) return;
      clearInterval(timer);
      closeIdle(socket);
      onIdle?.();
    },
    Math.max(1, Math.floor(timeoutMs / CHECKS_PER_TIMEOUT)),
  );
  timer.unref();
  socket.once('close', () => clearInterval(timer));
}

function closeIdle(socket: Duplex & Counted): void {
  // Nothing written yet: the handshake never finished, and a frame would not be understood.
  if (socket.bytesWritten > 0 && socket.writable) {
    // Idle means no frame is half-written: the close frame starts at a frame boundary. The client's own close frame,
    // its answer, still reaches the backend through the splice, which then closes too.
    socket.end(IDLE_CLOSE_FRAME);
    setTimeout(() => socket.destroy(), WEBSOCKET_IDLE_CLOSE_GRACE_MS).unref();
  } else {
    socket.destroy();
  }
}

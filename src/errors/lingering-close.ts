import type { Duplex, Readable } from 'node:stream';
import { UNREAD_BODY_LINGER_BYTES, UNREAD_BODY_LINGER_MS } from '../limits.ts';

/**
 * Closes a connection whose answer went out while the client may still be
 * sending: an early HTTP answer before the body arrived, or a refused upgrade
 * from a client that sends frames right after its request. Destroying it at
 * once would leave the client's bytes unread, and a socket closed with
 * unread input answers them with a reset: the client's next write fails
 * before it reads the answer waiting in its buffer, and a reset may discard
 * that answer besides.
 *
 * So the close lingers, as web servers do: the answer and a FIN go out, what
 * the client still sends is read and dropped, and the socket is destroyed
 * when that input ends, after UNREAD_BODY_LINGER_BYTES more, or after
 * UNREAD_BODY_LINGER_MS.
 *
 * `input` is where the client's bytes arrive: the socket itself once no HTTP
 * parser owns it (an upgrade), or the request when the parser still does.
 */
export function lingeringClose(socket: Duplex, input: Readable = socket, answer?: string | Buffer): void {
  if (socket.destroyed) return;
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  if (answer === undefined) socket.end();
  else socket.end(answer);
  let dropped = 0;
  const stop = (): void => {
    clearTimeout(timer);
    socket.destroy();
  };
  // The client said all it will: done once the answer is handed over (a destroy sooner could cut it short).
  const ended = (): void => {
    if (socket.writableFinished) stop();
    else socket.once('finish', stop);
  };
  const timer = setTimeout(stop, UNREAD_BODY_LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  input.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > UNREAD_BODY_LINGER_BYTES) stop();
  });
  input.once('error', stop);
  if (input !== socket) socket.once('error', stop);
  if (input.readableEnded) ended();
  else input.once('end', ended);
  input.resume();
}

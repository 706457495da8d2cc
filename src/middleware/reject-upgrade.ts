import type { Duplex } from 'node:stream';
import { ERROR_TABLE, type GatehouseError } from '../errors.ts';

/** Answers an upgrade that will not happen, in plain HTTP/1.1 with a JSON body, and closes. */
export function rejectUpgrade(socket: Duplex, error: GatehouseError, requestId?: string, signIn?: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const description = ERROR_TABLE[error.code];
  const body = JSON.stringify({
    error: {
      code: error.code,
      step: description.step,
      title: description.title,
      message: description.message,
      ...(requestId ? { requestId } : {}),
      ...(signIn ? { signInUrl: signIn } : {}),
    },
  });
  const headers = [
    `HTTP/1.1 ${description.status} ${description.title}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Cache-Control: no-store',
    'X-Robots-Tag: noindex, nofollow',
    ...(requestId ? [`X-Request-Id: ${requestId}`] : []),
    ...(description.status === 401 ? [`WWW-Authenticate: Gatehouse realm="gatehouse"${signIn ? `, signin_url="${signIn}"` : ''}`] : []),
    'Connection: close',
  ];
  socket.end(`${headers.join('\r\n')}\r\n\r\n${body}`);
}

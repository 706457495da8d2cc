/** What every HTTP/2 session the service runs over a connector's transport needs, whatever it is for. */
import type { Duplex } from 'node:stream';

/** Never resolved: the authority only names the HTTP/2 session in Node's bookkeeping. */
export const SESSION_AUTHORITY = 'http://connector.tunnel.invalid';

/** Small frames must not wait for ACKs (Nagle's algorithm); a WebSocket stream has no such switch. */
export function transportSetNoDelay(socket: Duplex): void {
  const candidate = socket as Duplex & { setNoDelay?: (noDelay?: boolean) => unknown };
  if (typeof candidate.setNoDelay === 'function') candidate.setNoDelay(true);
}

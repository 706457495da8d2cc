/** What every HTTP/2 session the service runs over a connector's transport needs, whatever it is for. */
import type { Duplex } from 'node:stream';
import { WriteAhead } from '../connector/write-ahead.ts';

/** Never resolved: the authority only names the HTTP/2 session in Node's bookkeeping. */
export const SESSION_AUTHORITY = 'http://connector.tunnel.invalid';

/** Small frames must not wait for ACKs (Nagle's algorithm); a WebSocket stream has no such switch. */
export function transportSetNoDelay(socket: Duplex): void {
  const candidate = socket as Duplex & { setNoDelay?: (noDelay?: boolean) => unknown };
  if (typeof candidate.setNoDelay === 'function') candidate.setNoDelay(true);
}

/**
 * The stream a tunnel's HTTP/2 session runs on: the transport behind a
 * WriteAhead, never the TLS socket itself. On a native socket Node's session
 * does the reading, and stops while one of its writes is pending; a
 * connector killed under load then and again left its tunnel's session
 * healthy on a connection the kernel had already closed (no 'close', no
 * error), its streams and their WebSockets held until the heartbeat gave up,
 * up to the ping interval plus its timeout later. Here the TLS socket is
 * read by JavaScript, which goes on reading while a write waits, so a close
 * or reset ends the session at once
 * (test/integration/websocket-connector-kill.test.ts). Writes complete at
 * once too, up to the connection window and more, as at the connector.
 */
export function sessionTransport(socket: Duplex): Duplex {
  return new WriteAhead(socket);
}

/**
 * What the service tells its connectors (the configuration document's
 * `tunnelReadsWhileWriting`): its sessions go on reading while their writes
 * wait, because sessionTransport reads the socket in JavaScript and completes
 * writes under a bound above the connector's connection window. A connector
 * told so runs its own session straight on its TLS socket, which stops
 * reading while it writes: one end that reads is what keeps a tunnel busy
 * both ways from deadlocking. Whoever puts the service's sessions back on the
 * socket makes this false, or the connectors' tunnels can deadlock.
 */
export const SERVICE_SESSIONS_READ_WHILE_WRITING = true;

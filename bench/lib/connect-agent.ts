/**
 * A keep-alive `http.Agent` whose connections are tunnel streams (for the
 * benchmarks that measure a tunnel's shape without Gatehouse's own agent):
 * Node's HTTP client takes any Duplex as its socket.
 */
import { Agent, type AgentOptions } from 'node:http';
import type { ClientHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';

/** A CONNECT stream as the agent's socket: the agent calls these on its sockets, and a stream has nothing to set. */
export function streamAsSocket(stream: ClientHttp2Stream): Duplex {
  return Object.assign(stream, { setKeepAlive: () => stream, setNoDelay: () => stream, ref: () => stream, unref: () => stream });
}

export class ConnectAgent extends Agent {
  readonly #open: () => Duplex;

  /** `open` makes each new connection: a CONNECT stream, as a socket. */
  constructor(open: () => Duplex, options: AgentOptions = {}) {
    super({ keepAlive: true, maxFreeSockets: 1024, ...options });
    this.#open = open;
  }

  override createConnection(): Duplex {
    return this.#open();
  }
}

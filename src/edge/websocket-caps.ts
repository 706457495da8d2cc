/**
 * WebSockets open at once per session and per client address, on this
 * instance: a WebSocket holds a socket, a backend connection and, through a
 * connector, a tunnel stream for as long as it is open, so one session or one
 * address must not open them without bound. An IPv6 /64 counts as one
 * address, since one host may use any address of its /64. Counted here first,
 * so a client at the cap on this instance costs no store call; with Redis,
 * `shared` then counts it over every instance (websocket-caps-redis.ts).
 */
import type { Duplex } from 'node:stream';
import { networkOf } from '../ip/network-key.ts';

export interface WebSocketCapSettings {
  readonly perSession: number;
  readonly perIp: number;
}

/** Why an upgrade was refused: the audit reason and the metric's label. */
export type WebSocketCapReason = 'websockets_per_session' | 'websockets_per_ip';

/** Where the instances' counts meet: a lease for an admitted socket, or the bound the other instances' sockets already fill. */
export interface SharedWebSocketCounts {
  /** Resolves with the bound met, else holds a lease for `socket` until it closes (an unreachable store admits: the local counts decided). */
  admit(socket: Duplex, sessionId: string | undefined, address: string, settings: WebSocketCapSettings): Promise<WebSocketCapReason | undefined>;
  /** Gives back this instance's leases (the gateway is closing). */
  close(): void;
}

export class WebSocketCaps {
  readonly #bySession = new Map<string, number>();
  readonly #byAddress = new Map<string, number>();
  readonly #shared: SharedWebSocketCounts | undefined;

  /** With `shared` (Redis), the caps hold over every instance; without, over this one (memory, SQLite: one instance). */
  constructor(shared?: SharedWebSocketCounts) {
    this.#shared = shared;
  }

  /** WebSockets counted now. */
  get size(): number {
    let sockets = 0;
    for (const count of this.#byAddress.values()) sockets += count;
    return sockets;
  }

  /** Open WebSockets of one session, and of one client address (its /64 for IPv6). */
  counts(sessionId: string | undefined, clientIp: string): { readonly session: number; readonly address: number } {
    return { session: sessionId === undefined ? 0 : (this.#bySession.get(sessionId) ?? 0), address: this.#byAddress.get(addressKey(clientIp)) ?? 0 };
  }

  /**
   * Counts `socket` for its session (none for a pass-through app) and its
   * client address until it closes; or, when either already has as many as
   * it may, counts nothing and says which bound it met. With a shared store the
   * answer is a promise: the other instances' sockets count too.
   */
  admit(
    socket: Duplex,
    sessionId: string | undefined,
    clientIp: string,
    settings: WebSocketCapSettings,
  ): WebSocketCapReason | undefined | Promise<WebSocketCapReason | undefined> {
    const address = addressKey(clientIp);
    if (sessionId !== undefined && (this.#bySession.get(sessionId) ?? 0) >= settings.perSession) return 'websockets_per_session';
    if ((this.#byAddress.get(address) ?? 0) >= settings.perIp) return 'websockets_per_ip';
    // A client that hung up during the handshake has nothing left to count, and its 'close' is gone.
    if (socket.destroyed) return undefined;
    add(this.#byAddress, address, 1);
    if (sessionId !== undefined) add(this.#bySession, sessionId, 1);
    let counted = true;
    const release = (): void => {
      if (!counted) return;
      counted = false;
      add(this.#byAddress, address, -1);
      if (sessionId !== undefined) add(this.#bySession, sessionId, -1);
    };
    socket.once('close', release);
    if (!this.#shared) return undefined;
    // Counted here meanwhile, so that upgrades arriving together cannot all pass the local check before any answer.
    return this.#shared.admit(socket, sessionId, address, settings).then((refused) => {
      if (refused) release();
      return refused;
    });
  }

  /** Gives back this instance's leases in the shared store; the local counts go with their sockets. */
  close(): void {
    this.#shared?.close();
  }
}

function addressKey(clientIp: string): string {
  return networkOf(clientIp, 32, 64) ?? clientIp;
}

function add(counts: Map<string, number>, key: string, delta: number): void {
  const next = (counts.get(key) ?? 0) + delta;
  // Keys leave at 0: memory follows the sockets open, not the clients ever seen.
  if (next <= 0) counts.delete(key);
  else counts.set(key, next);
}

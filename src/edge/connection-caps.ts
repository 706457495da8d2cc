/**
 * Connections open at once per peer address on the public listener, on this
 * instance. Counted on the TCP socket as it is accepted, before any TLS
 * handshake or HTTP parsing, so a refusal costs next to nothing. The address
 * is the socket's peer: no header is read yet, so behind a load balancer
 * every connection is the balancer's. An IPv6 /64 counts as one address,
 * since one host may use any address of its /64.
 */
import type { Socket } from 'node:net';
import { networkOf } from '../ip/network-key.ts';

export class ConnectionCaps {
  readonly #byAddress = new Map<string, number>();
  #open = 0;

  /** Connections counted now. */
  get size(): number {
    return this.#open;
  }

  /** Connections open from the address of `peer` (its /64 for IPv6). */
  count(peer: string): number {
    return this.#byAddress.get(addressKey(peer)) ?? 0;
  }

  /**
   * Counts `socket` until it closes; or, when its address already holds `perIp`
   * connections, counts nothing and returns false. `perIp` 0 counts without a cap.
   */
  admit(socket: Socket, perIp: number): boolean {
    const peer = socket.remoteAddress;
    // A client gone before it was accepted has no address and no 'close' to come.
    if (peer === undefined || socket.destroyed) return true;
    const key = addressKey(peer);
    const count = this.#byAddress.get(key) ?? 0;
    if (perIp > 0 && count >= perIp) return false;
    this.#byAddress.set(key, count + 1);
    this.#open += 1;
    socket.once('close', () => {
      this.#open -= 1;
      const left = (this.#byAddress.get(key) ?? 1) - 1;
      // Keys leave at 0: memory follows the connections open, not the addresses ever seen.
      if (left <= 0) this.#byAddress.delete(key);
      else this.#byAddress.set(key, left);
    });
    return true;
  }
}

function addressKey(peer: string): string {
  return networkOf(peer, 32, 64) ?? peer;
}

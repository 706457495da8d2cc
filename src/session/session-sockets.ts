import type { Socket } from 'node:net';
import type { Clock } from '../clock.ts';

/**
 * Upgraded connections (WebSockets) by session: logout or revocation closes
 * them, and none outlives its session's expiry (field lesson 8).
 */
export class SessionSockets {
  readonly #bySession = new Map<string, Set<Socket>>();
  readonly #clock: Clock;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** `expiresAt` in epoch seconds. */
  track(sessionId: string, expiresAt: number, socket: Socket): void {
    let sockets = this.#bySession.get(sessionId);
    if (!sockets) {
      sockets = new Set();
      this.#bySession.set(sessionId, sockets);
    }
    sockets.add(socket);
    const timer = setTimeout(() => socket.destroy(), Math.max(0, expiresAt * 1000 - this.#clock()));
    timer.unref();
    socket.once('close', () => {
      clearTimeout(timer);
      sockets.delete(socket);
      if (sockets.size === 0 && this.#bySession.get(sessionId) === sockets) this.#bySession.delete(sessionId);
    });
  }

  closeSession(sessionId: string): number {
    const sockets = this.#bySession.get(sessionId);
    if (!sockets) return 0;
    for (const socket of sockets) socket.destroy();
    return sockets.size;
  }

  closeAll(): void {
    for (const sockets of this.#bySession.values()) for (const socket of sockets) socket.destroy();
  }
}

import type { Socket } from 'node:net';
import type { Clock } from '../clock.ts';
import { SOCKET_RECHECK_INTERVAL_MS } from '../limits.ts';
import { isGroupRevocationKey } from './idp-session.ts';

/**
 * Asked periodically for each open socket: does its session still hold (not
 * revoked, expired or idle) and does policy still allow it? False, a
 * rejection or a throw closes the socket. It audits its own refusals.
 */
export type SocketRecheck = () => Promise<boolean>;

/** Calls `tick` every `intervalMs` until the returned function is called. */
export type RecheckScheduler = (tick: () => void, intervalMs: number) => () => void;

export interface SessionSocketsOptions {
  /** Default SOCKET_RECHECK_INTERVAL_MS. */
  readonly recheckIntervalMs?: number;
  /** Default: an unref'd setInterval. Tests pass their own to tick by hand. */
  readonly schedule?: RecheckScheduler;
}

const intervalScheduler: RecheckScheduler = (tick, intervalMs) => {
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
};

/**
 * Upgraded connections (WebSockets) by session. Logout or revocation closes
 * them, none outlives its session's expiry, and every few seconds each one
 * is checked again: an open socket must not outlast an idle timeout, a
 * revocation seen by another instance, or a policy that no longer allows it.
 */
export class SessionSockets {
  readonly #bySession = new Map<string, Set<Socket>>();
  readonly #rechecks = new Map<Socket, SocketRecheck>();
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #schedule: RecheckScheduler;
  #cancelTimer: (() => void) | undefined;
  #running: Promise<number> | undefined;
  #queued: Promise<number> | undefined;

  constructor(clock: Clock, options: SessionSocketsOptions = {}) {
    this.#clock = clock;
    this.#intervalMs = options.recheckIntervalMs ?? SOCKET_RECHECK_INTERVAL_MS;
    this.#schedule = options.schedule ?? intervalScheduler;
  }

  /** Sockets open, and those with a periodic re-check. */
  get size(): { readonly sockets: number; readonly rechecked: number } {
    let sockets = 0;
    for (const set of this.#bySession.values()) sockets += set.size;
    return { sockets, rechecked: this.#rechecks.size };
  }

  /** `expiresAt` in epoch seconds. With `recheck`, the socket is also checked again every recheck interval. */
  track(sessionId: string, expiresAt: number, socket: Socket, recheck?: SocketRecheck): void {
    let sockets = this.#bySession.get(sessionId);
    if (!sockets) {
      sockets = new Set();
      this.#bySession.set(sessionId, sockets);
    }
    sockets.add(socket);
    if (recheck) {
      this.#rechecks.set(socket, recheck);
      this.#cancelTimer ??= this.#schedule(() => void this.recheckAll(), this.#intervalMs);
    }
    const timer = setTimeout(() => socket.destroy(), Math.max(0, expiresAt * 1000 - this.#clock()));
    timer.unref();
    socket.once('close', () => {
      clearTimeout(timer);
      sockets.delete(socket);
      if (sockets.size === 0 && this.#bySession.get(sessionId) === sockets) this.#bySession.delete(sessionId);
      this.#rechecks.delete(socket);
      if (this.#rechecks.size === 0) this.#stopTimer();
    });
  }

  /**
   * Runs every socket's re-check once and closes those that fail; resolves
   * with how many were closed. A run still going when the next is due is
   * not doubled: the caller gets the running one.
   */
  recheckAll(): Promise<number> {
    this.#running ??= this.#runRechecks().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /**
   * Closes the session's sockets. A revocation that names a group of sessions
   * (a back-channel logout) cannot be looked up by session: every socket is
   * checked again at once instead, and those whose session it ended close.
   */
  closeSession(sessionId: string): number {
    if (isGroupRevocationKey(sessionId)) {
      void this.#recheckAllFromNow();
      return 0;
    }
    const sockets = this.#bySession.get(sessionId);
    if (!sockets) return 0;
    for (const socket of sockets) socket.destroy();
    return sockets.size;
  }

  /**
   * A run under way may have passed a socket before the revocation arrived (its check read the store, then waited on
   * the policy): sharing that run would leave the socket open until the next interval. One more run follows it
   * instead, shared by every revocation heard meanwhile.
   */
  #recheckAllFromNow(): Promise<number> {
    if (this.#running === undefined) return this.recheckAll();
    const next = (): Promise<number> => {
      this.#queued = undefined;
      return this.recheckAll();
    };
    this.#queued ??= this.#running.then(next, next);
    return this.#queued;
  }

  closeAll(): void {
    this.#stopTimer();
    for (const sockets of this.#bySession.values()) for (const socket of sockets) socket.destroy();
  }

  async #runRechecks(): Promise<number> {
    const checks = [...this.#rechecks].map(async ([socket, recheck]) => {
      if (socket.destroyed) return 0;
      // Fails closed: a check that cannot say yes closes the socket.
      const ok = await Promise.resolve()
        .then(recheck)
        .catch(() => false);
      if (ok === true || socket.destroyed) return 0;
      socket.destroy();
      return 1;
    });
    let closed = 0;
    for (const count of await Promise.all(checks)) closed += count;
    return closed;
  }

  #stopTimer(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
  }
}

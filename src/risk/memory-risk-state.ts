import { BoundedMap } from './bounded-map.ts';
import type { FailureKind, RiskState, RiskStats } from './risk-state.ts';
import { countInWindow, recordTime } from './sliding-count.ts';

export interface RiskStateBounds {
  /** Users with failures, and users with a network history (each). */
  readonly maxUsers: number;
  /** Client addresses with failures. */
  readonly maxAddresses: number;
}

/**
 * Risk counters in this process, in bounded maps that forget the least
 * recently active entry first (fails open: a forgotten user has no history,
 * a forgotten address no failures). Lost on restart; not shared.
 */
export class MemoryRiskState implements RiskState {
  readonly #failures: Record<FailureKind, BoundedMap<string, number[]>>;
  // Kept apart from the failures: failures naming made-up users must not push real users' histories out.
  readonly #histories: BoundedMap<string, BoundedMap<string, number>>;

  constructor(bounds: RiskStateBounds) {
    this.#failures = { user: new BoundedMap(bounds.maxUsers), address: new BoundedMap(bounds.maxAddresses) };
    this.#histories = new BoundedMap(bounds.maxUsers);
  }

  recordFailure(kind: FailureKind, key: string, nowMs: number, windowMs: number, keep: number): Promise<void> {
    const map = this.#failures[kind];
    const times = map.get(key) ?? [];
    recordTime(times, nowMs, windowMs, keep);
    map.set(key, times);
    return Promise.resolve();
  }

  failuresInWindow(kind: FailureKind, key: string, nowMs: number, windowMs: number): Promise<number> {
    return Promise.resolve(countInWindow(this.#failures[kind].peek(key) ?? [], nowMs, windowMs));
  }

  networks(sub: string, sinceMs: number): Promise<ReadonlyMap<string, number>> {
    const remembered = new Map<string, number>();
    for (const [network, lastSeen] of this.#histories.get(sub)?.entries() ?? []) {
      if (lastSeen > sinceMs) remembered.set(network, lastSeen);
    }
    return Promise.resolve(remembered);
  }

  rememberNetwork(sub: string, network: string, nowMs: number, keep: number, forgetAfterMs: number): Promise<void> {
    const history = this.#histories.get(sub) ?? new BoundedMap<string, number>(keep);
    for (const [known, lastSeen] of history.entries()) {
      if (lastSeen <= nowMs - forgetAfterMs) history.delete(known);
    }
    history.set(network, nowMs);
    this.#histories.set(sub, history);
    return Promise.resolve();
  }

  stats(): RiskStats {
    const { user, address } = this.#failures;
    return {
      usersWithFailures: user.size,
      addressesWithFailures: address.size,
      usersWithHistory: this.#histories.size,
      evicted: { usersWithFailures: user.evicted, addressesWithFailures: address.evicted, usersWithHistory: this.#histories.evicted },
    };
  }
}

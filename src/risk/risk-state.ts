/**
 * Where the built-in risk signals keep what they count: failed sign-ins per
 * user and per client address in a sliding window, and each user's
 * remembered networks. Memory for one process; SQLite (the state database)
 * so a restart keeps the counts; Redis so that every gateway instance counts
 * every instance's failures.
 *
 * Times are epoch milliseconds. Every method may reject when the store is
 * unreachable; the built-in provider then answers its failure level.
 */

/** What a failure is counted against: the user's `sub`, or the client address key. */
export type FailureKind = 'user' | 'address';

export interface RiskStats {
  readonly usersWithFailures: number;
  readonly addressesWithFailures: number;
  readonly usersWithHistory: number;
  /** Entries forgotten to stay within the bounds, since creation. */
  readonly evicted: { readonly usersWithFailures: number; readonly addressesWithFailures: number; readonly usersWithHistory: number };
}

export interface RiskState {
  /** Counts a failure at `nowMs`, keeping at most the newest `keep` of the key's failures in the window (now - windowMs, now]. */
  recordFailure(kind: FailureKind, key: string, nowMs: number, windowMs: number, keep: number): Promise<void>;
  /** The key's failures in the window (now - windowMs, now]. */
  failuresInWindow(kind: FailureKind, key: string, nowMs: number, windowMs: number): Promise<number>;
  /** The user's networks last seen after `sinceMs`, with their last-seen time. */
  networks(sub: string, sinceMs: number): Promise<ReadonlyMap<string, number>>;
  /** The user signed in from `network` at `nowMs`: it is remembered, with at most `keep` networks per user; one unused for `forgetAfterMs` is forgotten. */
  rememberNetwork(sub: string, network: string, nowMs: number, keep: number, forgetAfterMs: number): Promise<void>;
  /** Entry counts, where the backend can tell them cheaply (memory, SQLite). */
  stats?(): RiskStats;
  /** Releases what the state opened itself. */
  close?(): Promise<void> | void;
}

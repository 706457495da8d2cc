import { systemClock, type Clock } from '../clock.ts';
import type { RiskLevel, RiskProvider } from '../policy/types.ts';
import { levelForCount, maxRiskLevel } from './levels.ts';
import { networkOf } from '../ip/network-key.ts';
import { parseRiskSettings } from './parse-risk-settings.ts';
import type { RiskSettings, RiskSettingsInput } from './settings.ts';
import { MemoryRiskState } from './memory-risk-state.ts';
import type { RiskState, RiskStats } from './risk-state.ts';

/**
 * The built-in risk provider: computed only from what this gateway sees.
 *
 * Signals (thresholds and windows are `risk:` settings; defaults in brackets):
 *
 * 1. Failed sign-ins per user → sign-in risk. Every `recordSignInFailure`
 *    naming a `sub` counts for that user. When the failures in the sliding
 *    window [15 min] reach `failedSignIns.perUser.medium` [5] the user's
 *    sign-in risk is `medium`; at `.high` [10] it is `high`. Below the
 *    first threshold the signal says nothing. A success does not clear the
 *    count: failures followed by a success is the pattern of a guessed
 *    password, so the risk stays until the failures leave the window.
 * 2. Failed sign-ins per client address → sign-in risk. Every failure
 *    (with or without a `sub`) counts for its client address — the IPv4
 *    address, or the IPv6 prefix of `failedSignIns.ipv6AddressPrefix` [/64],
 *    since one host can use any address of its /64. Any sign-in or request
 *    from that address gets `medium` at `perAddress.medium` [20] failures in
 *    the window and `high` at `perAddress.high` [40].
 * 3. New network → sign-in risk. A network is the client address's IPv4
 *    /`networks.ipv4Prefix` [/24] or IPv6 /`networks.ipv6Prefix` [/48]
 *    (IPv4-mapped IPv6 counts as IPv4). Each `recordSignInSuccess` remembers
 *    the user's network. A request from a network the user has no
 *    remembered success from gets `newNetwork.level` [`low`] — but only once
 *    the user has a history: a user with no remembered network (the first
 *    ever sign-in, or one whose history was forgotten) gets `none`. A network
 *    unused for `newNetwork.rememberFor` [90 days] is forgotten.
 * 4. Many networks → user risk. The distinct networks among the user's
 *    successful sign-ins in the last `manyNetworks.window` [1 h], plus the
 *    network of the request being judged, are counted: at
 *    `manyNetworks.medium` [3] the user risk is `medium`, at `.high` [5]
 *    `high`. It falls back once the sign-ins leave the window.
 *
 * The sign-in risk is the highest of signals 1-3, the user risk is signal 4.
 * The provider judges a sign-in before it is recorded: ask it first, then
 * call `recordSignInSuccess` once the sign-in completed (a session was
 * issued), or `recordSignInFailure` when it failed.
 *
 * What is counted lives in a RiskState (memory by default; SQLite or Redis
 * when the gateway's store is one, so that a restart or another instance
 * sees the same counts). It is bounded (`risk.memory`, src/limits.ts): at
 * most `maxUsers` users with failures, `maxUsers` users with a network
 * history, `maxAddresses` addresses with failures, `maxNetworksPerUser`
 * networks per user and, per key, only as many failure times as the `high`
 * threshold. The least recently active entry is forgotten first; forgetting
 * fails open (a forgotten user has no history, a forgotten address no
 * failures), which is why the bounds are large. Time comes from the injected
 * clock, unless a call passes `now`: epoch SECONDS, like `AccessFacts.now`.
 *
 * When the state cannot be read (its store is unreachable) the provider
 * answers `high` for both risks, as a custom provider does by default
 * (`risk.customProvider.onError`): fail closed, so that taking the store
 * down never lowers anyone's risk. Recording a sign-in never fails the
 * sign-in: a failure to record is reported and dropped.
 */

export interface BuiltInRiskOptions {
  /** The `risk:` settings (validated here; already-parsed settings pass unchanged). */
  readonly settings?: RiskSettingsInput | RiskSettings;
  readonly clock?: Clock;
  /** Where the counts live. Default: this process's memory, within `risk.memory`. */
  readonly state?: RiskState;
  /** The state could not be read or written (the provider answered `high`, or a sign-in went uncounted). Must not throw. */
  readonly onStateError?: (error: unknown) => void;
}

export type { RiskStats } from './risk-state.ts';

export type RiskSignalName = 'failed_sign_ins_user' | 'failed_sign_ins_address' | 'new_network' | 'many_networks';

/** One signal that raised a level, for the audit log. */
export interface RiskSignal {
  readonly signal: RiskSignalName;
  readonly level: RiskLevel;
  /** The failures or networks counted; absent for `new_network`. */
  readonly count?: number;
}

export interface RiskAssessment {
  readonly userRisk: RiskLevel;
  readonly signInRisk: RiskLevel;
  /** The signals that raised a level; empty when both are `none`. */
  readonly signals: readonly RiskSignal[];
}

export interface BuiltInRisk {
  /** Never rejects: a state it cannot read gives `high` for both risks. */
  readonly provider: RiskProvider;
  readonly settings: RiskSettings;
  /** The same judgement as `provider`, with the signals that raised it; rejects when the state cannot be read. `now`: epoch seconds, default the clock. */
  assess(input: { readonly sub: string; readonly clientIp: string; readonly now?: number }): Promise<RiskAssessment>;
  /** A sign-in failed; `sub` when the failure happened after the user was known. `now`: epoch seconds, default the clock. Never rejects. */
  recordSignInFailure(input: { readonly sub?: string | undefined; readonly clientIp: string; readonly now?: number }): Promise<void>;
  /** A sign-in completed (a session was issued). `now`: epoch seconds, default the clock. Never rejects. */
  recordSignInSuccess(input: { readonly sub: string; readonly clientIp: string; readonly now?: number }): Promise<void>;
  /** Entry counts, when the state can tell them (memory, SQLite). */
  stats(): RiskStats | undefined;
}

const FAILED: { readonly userRisk: RiskLevel; readonly signInRisk: RiskLevel } = Object.freeze({ userRisk: 'high', signInRisk: 'high' });

export function createBuiltInRisk(options: BuiltInRiskOptions = {}): BuiltInRisk {
  const settings = parseRiskSettings(options.settings);
  const clock = options.clock ?? systemClock;
  const { failedSignIns, newNetwork, manyNetworks, networks, memory } = settings;
  const failureWindowMs = failedSignIns.window * 1000;
  const rememberForMs = newNetwork.rememberFor * 1000;
  const manyWindowMs = manyNetworks.window * 1000;
  const state = options.state ?? new MemoryRiskState({ maxUsers: memory.maxUsers, maxAddresses: memory.maxAddresses });
  const reportError = (error: unknown): void => {
    try {
      options.onStateError?.(error);
    } catch {
      // A reporting hook must not turn a contained failure into an uncontained one.
    }
  };

  /** Milliseconds internally: `now` arrives in epoch seconds, the clock answers in milliseconds. */
  const msOf = (now: number | undefined): number => (now === undefined ? clock() : now * 1000);
  const networkOfAddress = (clientIp: string): string | undefined => networkOf(clientIp, networks.ipv4Prefix, networks.ipv6Prefix);
  const addressKey = (clientIp: string): string | undefined => {
    const bare = networkOf(clientIp, 32, failedSignIns.ipv6AddressPrefix);
    return bare?.endsWith('/32') === true ? bare.slice(0, -3) : bare;
  };
  const none = Promise.resolve(0);

  const assess: BuiltInRisk['assess'] = async ({ sub, clientIp, now: seconds }) => {
    const now = msOf(seconds);
    const signals: RiskSignal[] = [];
    let signInRisk: RiskLevel = 'none';
    let userRisk: RiskLevel = 'none';
    if (!settings.enabled) return { userRisk, signInRisk, signals };

    const key = addressKey(clientIp);
    // Asked together: on Redis the three commands share one round trip.
    const [byUser, byAddress, remembered] = await Promise.all([
      failedSignIns.enabled ? state.failuresInWindow('user', sub, now, failureWindowMs) : none,
      failedSignIns.enabled && key !== undefined ? state.failuresInWindow('address', key, now, failureWindowMs) : none,
      newNetwork.enabled || manyNetworks.enabled ? state.networks(sub, now - rememberForMs) : new Map<string, number>(),
    ]);
    if (failedSignIns.enabled) {
      const userLevel = levelForCount(byUser, failedSignIns.perUser);
      if (userLevel !== 'none') signals.push({ signal: 'failed_sign_ins_user', level: userLevel, count: byUser });
      const addressLevel = levelForCount(byAddress, failedSignIns.perAddress);
      if (addressLevel !== 'none') signals.push({ signal: 'failed_sign_ins_address', level: addressLevel, count: byAddress });
      signInRisk = maxRiskLevel(userLevel, addressLevel);
    }

    const network = networkOfAddress(clientIp);
    if (newNetwork.enabled && network !== undefined && remembered.size > 0 && !remembered.has(network)) {
      signals.push({ signal: 'new_network', level: newNetwork.level });
      signInRisk = maxRiskLevel(signInRisk, newNetwork.level);
    }
    if (manyNetworks.enabled) {
      const recent = new Set<string>();
      for (const [known, lastSeen] of remembered) if (lastSeen > now - manyWindowMs) recent.add(known);
      if (network !== undefined) recent.add(network);
      userRisk = levelForCount(recent.size, manyNetworks);
      if (userRisk !== 'none') signals.push({ signal: 'many_networks', level: userRisk, count: recent.size });
    }
    return { userRisk, signInRisk, signals };
  };

  return {
    settings,
    provider: async ({ sub, clientIp }) => {
      try {
        const { userRisk, signInRisk } = await assess({ sub, clientIp });
        return { userRisk, signInRisk };
      } catch (error) {
        reportError(error);
        return FAILED;
      }
    },
    assess,
    async recordSignInFailure({ sub, clientIp, now: seconds }) {
      const now = msOf(seconds);
      if (!settings.enabled || !failedSignIns.enabled) return;
      const key = addressKey(clientIp);
      const writes: Promise<void>[] = [];
      if (sub !== undefined && sub !== '') writes.push(state.recordFailure('user', sub, now, failureWindowMs, failedSignIns.perUser.high));
      if (key !== undefined) writes.push(state.recordFailure('address', key, now, failureWindowMs, failedSignIns.perAddress.high));
      for (const result of await Promise.allSettled(writes)) if (result.status === 'rejected') reportError(result.reason);
    },
    async recordSignInSuccess({ sub, clientIp, now: seconds }) {
      const now = msOf(seconds);
      if (!settings.enabled || (!newNetwork.enabled && !manyNetworks.enabled)) return;
      const network = networkOfAddress(clientIp);
      if (network === undefined || sub === '') return;
      try {
        await state.rememberNetwork(sub, network, now, memory.maxNetworksPerUser, rememberForMs);
      } catch (error) {
        reportError(error);
      }
    },
    stats: () => state.stats?.(),
  };
}

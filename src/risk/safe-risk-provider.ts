import { RISK_PROVIDER_MAX_TIMEOUT_MS, RISK_PROVIDER_TIMEOUT_MS } from '../limits.ts';
import type { RiskLevel, RiskProvider } from '../policy/types.ts';
import { isRiskLevel } from './levels.ts';

export type RiskFailureReason = 'error' | 'timeout' | 'invalid_result';

export interface SafeRiskProviderOptions {
  /**
   * The level both risks take when the provider throws, rejects, answers
   * something that is not a level, or does not answer within `timeoutMs`.
   * Default `high` (fail closed): a provider exists because its verdict
   * matters to a policy, and someone who can make it fail — slow it down,
   * feed it input it chokes on — must not thereby lower their own risk. An
   * outage of the provider then triggers the policies written for high risk
   * (typically MFA or block), which is loud and audited; choose `none` only
   * for advisory providers no policy blocks on.
   */
  readonly onError?: 'none' | 'high';
  /** Default RISK_PROVIDER_TIMEOUT_MS; at most RISK_PROVIDER_MAX_TIMEOUT_MS, since it runs on the request path. */
  readonly timeoutMs?: number;
  /** Told about every failure, e.g. to emit a `risk.provider_failed` audit event. Must not throw. */
  readonly onFailure?: (failure: { readonly reason: RiskFailureReason; readonly error?: unknown }) => void;
}

/** A user-supplied provider that can neither throw, hang, nor answer nonsense. */
export function safeRiskProvider(provider: RiskProvider, options: SafeRiskProviderOptions = {}): RiskProvider {
  if (typeof provider !== 'function') throw new TypeError('safeRiskProvider: provider must be a function');
  const onError = options.onError ?? 'high';
  if (onError !== 'none' && onError !== 'high') throw new TypeError('safeRiskProvider: onError must be "none" or "high"');
  const timeoutMs = options.timeoutMs ?? RISK_PROVIDER_TIMEOUT_MS;
  if (!(Number.isInteger(timeoutMs) && timeoutMs > 0 && timeoutMs <= RISK_PROVIDER_MAX_TIMEOUT_MS)) {
    throw new TypeError(`safeRiskProvider: timeoutMs must be a whole number of milliseconds in 1..${RISK_PROVIDER_MAX_TIMEOUT_MS}`);
  }
  const fallback: { readonly userRisk: RiskLevel; readonly signInRisk: RiskLevel } = Object.freeze({ userRisk: onError, signInRisk: onError });
  const fail = (reason: RiskFailureReason, error?: unknown) => {
    try {
      options.onFailure?.(error === undefined ? { reason } : { reason, error });
    } catch {
      // A reporting hook must not turn a contained failure into an uncontained one.
    }
    return fallback;
  };

  return async (input) => {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    try {
      const pending = Promise.resolve().then(() => provider(input));
      // The provider may still settle after we stopped waiting; its rejection must not go unhandled.
      pending.catch(() => {});
      const answer = await Promise.race([pending, timedOut]);
      if (answer === 'timeout') return fail('timeout');
      const { userRisk, signInRisk } = (answer ?? {}) as { userRisk?: unknown; signInRisk?: unknown };
      if (!isRiskLevel(userRisk) || !isRiskLevel(signInRisk)) return fail('invalid_result');
      return { userRisk, signInRisk };
    } catch (error) {
      return fail('error', error);
    } finally {
      clearTimeout(timer);
    }
  };
}

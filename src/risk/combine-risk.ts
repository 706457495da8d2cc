import type { RiskLevel, RiskProvider } from '../policy/types.ts';
import { maxRiskLevel } from './levels.ts';

/**
 * Several providers as one: each is asked at once and the highest level of
 * each kind wins, so adding a provider can only raise risk. A provider that
 * rejects makes the combination reject: wrap providers you do not control in
 * `safeRiskProvider` first, which decides what a failure counts as.
 */
export function combineRisk(...providers: readonly RiskProvider[]): RiskProvider {
  providers.forEach((provider, index) => {
    if (typeof provider !== 'function') throw new TypeError(`combineRisk: provider ${index} must be a function`);
  });
  return async (input) => {
    const answers = await Promise.all(providers.map((provider) => provider(input)));
    let userRisk: RiskLevel = 'none';
    let signInRisk: RiskLevel = 'none';
    for (const answer of answers) {
      userRisk = maxRiskLevel(userRisk, answer.userRisk);
      signInRisk = maxRiskLevel(signInRisk, answer.signInRisk);
    }
    return { userRisk, signInRisk };
  };
}

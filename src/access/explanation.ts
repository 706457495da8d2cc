import type { AccessDecision, PolicyOutcome, Remedy } from '../policy/types.ts';

/** What the user is told: what failed and what they can do, never the policy's internals. */
export interface Explanation {
  readonly details: readonly string[];
  readonly remedy: Remedy;
}

const REMEDY_TEXT: Readonly<Record<Remedy, string>> = {
  'sign-in-with-mfa': 'Sign in again with multi-factor authentication.',
  'sign-in-again': 'Sign in again.',
  'use-corporate-network': 'Connect from your corporate network (or its VPN) and try again.',
  'contact-admin': 'If you need access, contact your administrator and give them the request ID below.',
};

/** Remedies a user can act on come first; "contact an admin" is the last resort. */
const REMEDY_ORDER: readonly Remedy[] = ['contact-admin', 'use-corporate-network', 'sign-in-with-mfa', 'sign-in-again'];

function sentence(outcome: PolicyOutcome): string {
  const reason = outcome.reason;
  if (reason.startsWith('grant.mfa')) return 'This application requires multi-factor authentication, and your sign-in did not include it.';
  if (reason.startsWith('session.sign_in_frequency')) return 'This application requires a more recent sign-in.';
  if (reason.startsWith('grant.claims')) return 'Your account lacks an attribute this application requires.';
  if (reason.startsWith('grant.block')) {
    if (outcome.matched.some((entry) => entry.startsWith('location'))) return 'Access from your current network is not allowed.';
    if (outcome.matched.some((entry) => entry.startsWith('signInRisk') || entry.startsWith('userRisk'))) {
      return 'This sign-in was judged risky, so access is blocked.';
    }
    if (outcome.matched.some((entry) => entry.startsWith('clientApp') || entry.startsWith('kind'))) return 'This kind of client may not use this application.';
    return 'Your account is not allowed to use this application.';
  }
  return "Your access does not meet this application's policy.";
}

export function explain(decision: AccessDecision): Explanation {
  const failed = decision.failed;
  const details = [...new Set(failed.map(sentence))];
  const remedies = failed.map((outcome) => outcome.remedy ?? 'contact-admin');
  const remedy = REMEDY_ORDER.find((candidate) => remedies.includes(candidate)) ?? 'contact-admin';
  return { details: [...details, REMEDY_TEXT[remedy]], remedy };
}

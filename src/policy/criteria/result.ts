/**
 * What every criterion returns (pomerium `pkg/policy/criteria`): whether it
 * holds, and a short machine label saying why. Labels carry only policy text
 * (location names, claim names, configured users), never request data, so an
 * audit line cannot be stuffed by a client.
 */
export interface CriterionResult {
  readonly ok: boolean;
  /** When `ok`, what matched (`groups:staff`); otherwise what did not (`users.exclude:bob@example.com`). */
  readonly reason: string;
}

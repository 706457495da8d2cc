/** What a grant control returns: whether it holds, and its machine reason. */
export interface ControlResult {
  readonly control: 'block' | 'mfa' | 'claims';
  readonly ok: boolean;
  /** `grant.block`, `grant.mfa`, `grant.mfa_missing`, `grant.claims`, `grant.claims:department`. */
  readonly reason: string;
}

/**
 * The contract of the conditional-access engine. The engine is
 * pure: facts in, a decision with reasons out; it knows nothing of Express
 * (as in pomerium `authorize`). The conditional-access middleware
 * gathers the facts and turns the decision into a response.
 */

export type RiskLevel = 'none' | 'low' | 'medium' | 'high';
export const RISK_LEVELS: readonly RiskLevel[] = ['none', 'low', 'medium', 'high'];

export type ClientApp = 'browser' | 'api';

/** A person, or a program calling with its own access token (client credentials). */
export type IdentityKind = 'user' | 'service';

export type PolicyState = 'on' | 'off' | 'report-only';

/** A claim condition or grant: equals one value, contains one value (arrays and space-separated strings), or is one of several values. */
export type ClaimMatch =
  | { readonly claim: string; readonly equals: string | number | boolean }
  | { readonly claim: string; readonly contains: string }
  | { readonly claim: string; readonly in: readonly (string | number | boolean)[] };

export interface IncludeExclude {
  /** `*` means everyone. For users: `sub` values or email addresses. */
  readonly include?: readonly string[];
  readonly exclude?: readonly string[];
}

export interface PolicyConditions {
  readonly users?: IncludeExclude;
  readonly groups?: IncludeExclude;
  /** Named locations (see `namedLocations`), `any`, or inline CIDRs. */
  readonly locations?: IncludeExclude;
  readonly clientApps?: readonly ClientApp[];
  /** The policy applies to these kinds of caller only; absent means both. */
  readonly kinds?: readonly IdentityKind[];
  /** The policy applies when the sign-in risk is one of these. */
  readonly signInRisk?: readonly RiskLevel[];
  readonly userRisk?: readonly RiskLevel[];
  readonly claims?: readonly ClaimMatch[];
  /** Request path prefixes (`/admin/`), or exact paths; absent means every path. */
  readonly paths?: readonly string[];
}

export interface PolicyGrant {
  /** Block access: nothing else in the grant matters. */
  readonly block?: boolean;
  /** Require multi-factor authentication (see the `mfa` settings). */
  readonly mfa?: boolean;
  /** Require these claims. */
  readonly claims?: readonly ClaimMatch[];
  /** How several controls combine. Default `all`. */
  readonly operator?: 'all' | 'one';
}

export interface PolicySessionControls {
  /** Maximum age of the authentication, in seconds; older means sign in again. */
  readonly signInFrequency?: number;
  /** `never` forbids persistent (Max-Age) session cookies for this app. */
  readonly persistentBrowser?: 'allowed' | 'never';
}

export interface Policy {
  readonly name: string;
  readonly state: PolicyState;
  readonly conditions: PolicyConditions;
  readonly grant: PolicyGrant;
  readonly session?: PolicySessionControls;
}

export interface MfaSettings {
  /** `amr` values that count as multi-factor. */
  readonly amr: readonly string[];
  /** `acr` values that count as multi-factor. */
  readonly acr: readonly string[];
  /** What to ask the identity provider for on step-up (`acr_values`); absent: only `max_age=0`/`prompt=login`. */
  readonly acrValues?: readonly string[];
}

/** Everything the engine may look at. */
export interface AccessFacts {
  readonly user: {
    readonly sub: string;
    readonly email?: string | undefined;
    /**
     * Whether the identity provider marked the email verified. Only a
     * verified email can exclude a user; absent, `claims.email_verified ===
     * true` is read instead (for callers that build facts themselves).
     */
    readonly emailVerified?: boolean | undefined;
    readonly groups: readonly string[];
    readonly amr: readonly string[];
    readonly acr?: string | undefined;
    /** Epoch seconds; undefined when unknown, which every sign-in frequency check treats as too old. */
    readonly authTime: number | undefined;
    /** Absent: a user. */
    readonly kind?: IdentityKind | undefined;
    /** Every ID-token claim the session kept (at least the ones above). */
    readonly claims: Readonly<Record<string, unknown>>;
  };
  readonly clientIp: string;
  readonly clientApp: ClientApp;
  readonly path: string;
  readonly signInRisk: RiskLevel;
  readonly userRisk: RiskLevel;
  /** Epoch seconds. */
  readonly now: number;
}

/** What the user can do about a denial; the page offers it. */
export type Remedy = 'sign-in-with-mfa' | 'sign-in-again' | 'use-corporate-network' | 'contact-admin';

export interface PolicyOutcome {
  readonly policy: string;
  readonly state: PolicyState;
  /** Whether the policy's conditions matched (it applied). */
  readonly applied: boolean;
  /** Whether its grant (and session controls) were satisfied. */
  readonly satisfied: boolean;
  /** Machine reason for the audit log, e.g. "grant.mfa_missing", "condition.location:corporate", "session.sign_in_frequency". */
  readonly reason: string;
  /** Which condition made it apply or not, for the audit log. */
  readonly matched: readonly string[];
  readonly remedy?: Remedy;
  /** On a failing outcome: every control that failed, the decisive `reason` first (e.g. both "grant.claims:department" and "grant.mfa_missing"). */
  readonly reasons?: readonly string[];
}

export type DecisionEffect =
  /** Go on. */
  | 'allow'
  /** Refuse; the reasons say why and what the user can do. */
  | 'deny'
  /** Send the user to the identity provider once, asking for more (MFA or a fresh sign-in). */
  | 'step-up';

export interface StepUpRequest {
  readonly acrValues?: readonly string[];
  /** max_age for the authorization request, seconds (0 = authenticate now). */
  readonly maxAge: number;
  readonly prompt?: 'login';
  /** Why: `mfa` or `sign_in_frequency`. */
  readonly reason: 'mfa' | 'sign_in_frequency';
}

export interface AccessDecision {
  readonly effect: DecisionEffect;
  /** Enforced outcomes that failed (deny or step-up); empty on allow. */
  readonly failed: readonly PolicyOutcome[];
  /** Every evaluated policy, report-only included, for the audit log. */
  readonly outcomes: readonly PolicyOutcome[];
  readonly stepUp?: StepUpRequest;
  /** Whether a persistent session cookie is allowed for this app by the applied policies. */
  readonly persistentAllowed: boolean;
}

/** A risk provider: user risk and sign-in risk for a user and a request. */
export type RiskProvider = (input: {
  readonly sub: string;
  readonly clientIp: string;
  readonly userAgent?: string | undefined;
  readonly app: string;
}) => Promise<{ readonly userRisk: RiskLevel; readonly signInRisk: RiskLevel }>;

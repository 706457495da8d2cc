import type { AppConfig } from '../config/parse.ts';
import type { Identity } from './identity.ts';
import type { RefreshedUser } from './refresh-state.ts';
import type { SessionRecord } from './session-record.ts';

/** What a completed sign-in hands over to become a session. */
export interface SignedInUser {
  readonly sub: string;
  readonly name?: string | undefined;
  readonly email?: string | undefined;
  /** The ID token's `email_verified` was true. Absent: read from `claims`. */
  readonly emailVerified?: boolean | undefined;
  readonly groups: readonly string[];
  readonly amr: readonly string[];
  readonly acr?: string | undefined;
  /** auth_time, epoch seconds; undefined when the ID token did not carry it. */
  readonly authTime: number | undefined;
  /** The ID token's expiry, epoch seconds: the session never outlives it (unless refreshed). */
  readonly idTokenExpiresAt: number;
  readonly idToken: string;
  /** The identity provider's session (the ID token's `sid`), when it said. */
  readonly idpSessionId?: string | undefined;
  /** Every claim of the ID token; the session keeps those the app's policies name. */
  readonly claims?: Readonly<Record<string, unknown>>;
  /** Kept sealed in the session store (never in the cookie) when session.refresh is on. */
  readonly refreshToken?: string | undefined;
}

export type KeptClaims = Record<string, string | number | boolean | string[]>;

/** Which claims an app's policies look at: the session keeps only these. */
export function policyClaimNames(app: AppConfig): string[] {
  const names = new Set<string>();
  for (const policy of app.policies) {
    for (const match of policy.conditions.claims ?? []) names.add(match.claim);
    for (const match of policy.grant.claims ?? []) names.add(match.claim);
  }
  return [...names];
}

export function keptClaims(app: AppConfig, claims: Readonly<Record<string, unknown>> | undefined): KeptClaims | undefined {
  if (!claims) return undefined;
  const kept: KeptClaims = {};
  for (const name of policyClaimNames(app)) {
    const value = claims[name];
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') kept[name] = value;
    else if (Array.isArray(value)) kept[name] = value.filter((item): item is string => typeof item === 'string');
  }
  return Object.keys(kept).length > 0 ? kept : undefined;
}

/**
 * What a refreshed ID token says about the user, in the shape the session keeps. `groups` are the user's groups as
 * the identity provider client resolved them (identityProvider.groupsClaim, or the groups endpoint on overage);
 * without them, the `groups` claim.
 */
export function refreshedUser(app: AppConfig, claims: Readonly<Record<string, unknown>>, groups?: readonly string[]): RefreshedUser {
  const text = (value: unknown): string | undefined => (typeof value === 'string' && value.length > 0 ? value : undefined);
  const list = (value: unknown): string[] => (Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : []);
  const email = text(claims['email']);
  const kept = keptClaims(app, claims);
  return {
    name: text(claims['name']),
    email,
    ev: email !== undefined && claims['email_verified'] === true,
    groups: groups ? [...groups] : list(claims['groups']),
    amr: list(claims['amr']),
    acr: text(claims['acr']),
    at: typeof claims['auth_time'] === 'number' ? claims['auth_time'] : undefined,
    ...(kept ? { c: kept } : {}),
  };
}

/**
 * The identity a session hands on: its sealed record, its group list (from
 * the cookie or the store), and what the latest refreshed ID token said,
 * which replaces the sign-in's claims.
 */
export function identityOf(record: SessionRecord, groups: readonly string[], refreshed?: RefreshedUser): Identity {
  const user = refreshed;
  return Object.freeze({
    sub: record.sub,
    name: user ? user.name : record.name,
    email: user ? user.email : record.email,
    emailVerified: user ? user.ev : record.ev === 1,
    groups: Object.freeze([...(user ? user.groups : groups)]),
    amr: Object.freeze([...(user ? user.amr : (record.amr ?? []))]),
    acr: user ? user.acr : record.acr,
    authTime: user ? user.at : record.at,
    sessionId: record.sid,
    sessionExpiresAt: record.exp,
    app: record.app,
    claims: Object.freeze({ ...(user ? (user.c ?? {}) : (record.c ?? {})) }),
  });
}

/** A record read from the unseal cache is the same frozen object on every request: so is its identity. */
const recordIdentities = new WeakMap<SessionRecord, Identity>();

/** The identity of a session whose groups are in its cookie and which is not refreshed (`identityOf` without the store). */
export function recordIdentity(record: SessionRecord): Identity {
  const known = recordIdentities.get(record);
  if (known) return known;
  const identity = identityOf(record, record.groups ?? []);
  // Frozen records only (the unseal cache's): a record that can still change is never answered for from here.
  if (Object.isFrozen(record)) recordIdentities.set(record, identity);
  return identity;
}

import { randomUUID } from 'node:crypto';
import * as jose from 'jose';
import { nowSeconds, type Clock } from '../clock.ts';
import type { AppConfig } from '../config/parse.ts';
import { ASSERTION_KEY_RETIRE_MARGIN_SECONDS, MAX_ASSERTION_CACHE_ENTRIES, MAX_FORWARDED_GROUPS_BYTES } from '../limits.ts';
import { ExpiringMap } from '../session/expiring-map.ts';
import { MemoryStore } from '../store/memory-store.ts';
import type { Store } from '../store/store.ts';
import type { Identity } from '../request/context.ts';
import { externalUrlOf } from '../config/external-url.ts';
import { AssertionKeyRing, signingKeyFrom, type SigningKey } from './assertion-key-ring.ts';
import { ASSERTION_ALG } from './assertion-keys.ts';

/** The header backends read the assertion from. */
export const ASSERTION_HEADER = 'X-Gatehouse-Assertion';
const ALG = ASSERTION_ALG;
const DEFAULT_ROTATION_SECONDS = 30 * 86_400;

export interface IdentityAssertionOptions {
  readonly issuer: string;
  /** Seconds. */
  readonly lifetime: number;
  /** PEM PKCS#8 P-256 private key from the configuration: it alone signs, and rotating it is the operator's job. */
  readonly keyPem?: string | undefined;
  /** Where the generated key ring is kept so every restart (and instance) signs and publishes the same keys. Absent: this process only. */
  readonly store?: () => Promise<Store | undefined>;
  /** Seconds a generated key signs before the next one takes over. Default 30 days. */
  readonly rotation?: number;
  readonly clock: Clock;
}

/** Where the keys come from: the configured key, or the ring of generated keys. */
type KeySource = { readonly configured: SigningKey } | { readonly ring: AssertionKeyRing };

/**
 * Signs short-lived JWTs (ES256, with `kid`, audience = the app) that tell a
 * backend who the user is, verifiable with any JOSE library against the
 * gateway's published JWKS (/.gatehouse/jwks.json).
 */
export class IdentityAssertions {
  readonly #options: IdentityAssertionOptions;
  #keys: Promise<KeySource> | undefined;
  readonly #cache = new ExpiringMap<string, { readonly token: string; readonly identity: Identity }>(MAX_ASSERTION_CACHE_ENTRIES);

  constructor(options: IdentityAssertionOptions) {
    this.#options = options;
  }

  /** Loads the configured key, or loads (creating or rotating) the key ring. */
  async ready(): Promise<void> {
    await this.#source();
  }

  /** The published keys: the configured one, or the ring's retired (for one assertion lifetime), current and next. */
  async jwks(): Promise<{ keys: jose.JWK[] }> {
    const source = await this.#source();
    return 'configured' in source ? { keys: [source.configured.publicJwk] } : source.ring.jwks();
  }

  /** The assertion signed earlier for this session and app, while it has more than half its lifetime left. */
  cachedAssertionFor(identity: Identity, app: AppConfig): string | undefined {
    const cached = this.#cache.get(cacheKey(identity, app), nowSeconds(this.#options.clock));
    // A session refreshed since (session.refresh) carries new claims: the old assertion would state the old ones.
    return cached && sameAssertedClaims(cached.identity, identity) ? cached.token : undefined;
  }

  /**
   * The assertion for one user and app. Signing costs more than a request
   * should, so one is reused until half its lifetime is gone.
   */
  async assertionFor(identity: Identity, app: AppConfig): Promise<string> {
    const cached = this.cachedAssertionFor(identity, app);
    if (cached) return cached;
    const now = nowSeconds(this.#options.clock);
    const source = await this.#source();
    const key = 'configured' in source ? source.configured : await source.ring.signingKey();
    const lifetime = this.#options.lifetime;
    const claims = assertedClaims(identity, app);
    const token = await new jose.SignJWT(claims)
      .setProtectedHeader({ alg: ALG, kid: key.kid, typ: 'JWT' })
      .setIssuer(this.#options.issuer)
      .setSubject(identity.sub)
      .setAudience(externalUrlOf(app).origin)
      .setIssuedAt(now)
      .setNotBefore(now - 5)
      .setExpirationTime(Math.min(now + lifetime, identity.sessionExpiresAt))
      .setJti(randomUUID())
      .sign(key.privateKey);
    this.#cache.set(cacheKey(identity, app), { token, identity }, now + Math.floor(lifetime / 2), now);
    return token;
  }

  #source(): Promise<KeySource> {
    // A store that did not answer the first time (Redis still starting or down) is asked again on the next call, not never.
    this.#keys ??= this.#open().catch((error: unknown) => {
      this.#keys = undefined;
      throw error;
    });
    return this.#keys;
  }

  async #open(): Promise<KeySource> {
    const { keyPem, clock, lifetime } = this.#options;
    if (keyPem) return { configured: await signingKeyFrom(await jose.importPKCS8(keyPem, ALG, { extractable: true })) };
    const store = (await this.#options.store?.()) ?? new MemoryStore();
    const rotation = this.#options.rotation ?? DEFAULT_ROTATION_SECONDS;
    const ring = new AssertionKeyRing({ store, clock, rotation, retention: lifetime + ASSERTION_KEY_RETIRE_MARGIN_SECONDS });
    await ring.ready();
    return { ring };
  }
}

/** What an assertion says of the user besides its subject and times. */
function assertedClaims(identity: Identity, app: AppConfig): jose.JWTPayload {
  const groupsFit = JSON.stringify(identity.groups).length <= MAX_FORWARDED_GROUPS_BYTES;
  return {
    email: identity.email,
    name: identity.name,
    ...(groupsFit ? { groups: identity.groups } : { groups_omitted: true }),
    amr: identity.amr,
    acr: identity.acr,
    auth_time: identity.authTime,
    app: app.id,
    // Only for a caller with an access token: a program (`service`) or a user, told apart from a browser session.
    ...(identity.via === 'bearer' ? { kind: identity.kind ?? 'user', client_id: identity.claims['client_id'] } : {}),
  };
}

/** Whether an assertion signed for `a` states what one for `b` would (checked on every request: no allocation). */
function sameAssertedClaims(a: Identity, b: Identity): boolean {
  return (
    a.name === b.name &&
    a.email === b.email &&
    a.acr === b.acr &&
    a.authTime === b.authTime &&
    a.via === b.via &&
    a.kind === b.kind &&
    a.claims['client_id'] === b.claims['client_id'] &&
    sameList(a.groups, b.groups) &&
    sameList(a.amr, b.amr)
  );
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let index = 0; index < a.length; index++) if (a[index] !== b[index]) return false;
  return true;
}

/** One assertion per session and app. */
function cacheKey(identity: Identity, app: AppConfig): string {
  return `${identity.sessionId}\u0000${app.id}`;
}

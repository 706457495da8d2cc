import { randomUUID } from 'node:crypto';
import * as jose from 'jose';
import { nowSeconds, type Clock } from '../clock.ts';
import type { AppConfig } from '../config/parse.ts';
import { MAX_ASSERTION_CACHE_ENTRIES, MAX_FORWARDED_GROUPS_BYTES } from '../limits.ts';
import { ExpiringMap } from '../session/expiring-map.ts';
import type { Store } from '../store/store.ts';
import type { Identity } from '../request/context.ts';
import { externalUrlOf } from '../config/external-url.ts';

/** The header backends read the assertion from. */
export const ASSERTION_HEADER = 'X-Gatehouse-Assertion';
const STORE_KEY = 'identity-assertion-key';
const ALG = 'ES256';

export interface IdentityAssertionOptions {
  readonly issuer: string;
  /** Seconds. */
  readonly lifetime: number;
  /** PEM PKCS#8 P-256 private key from the configuration. */
  readonly keyPem?: string | undefined;
  /** Where a generated key is kept so every restart (and instance) signs with the same one. */
  readonly store?: () => Promise<Store | undefined>;
  readonly clock: Clock;
}

interface SigningKey {
  readonly privateKey: jose.CryptoKey;
  readonly publicJwk: jose.JWK;
  readonly kid: string;
}

/**
 * Signs short-lived JWTs (ES256, with `kid`, audience = the app) that tell a
 * backend who the user is, verifiable with any JOSE library against the
 * gateway's published JWKS (/.gatehouse/jwks.json).
 */
export class IdentityAssertions {
  readonly #options: IdentityAssertionOptions;
  #key: Promise<SigningKey> | undefined;
  readonly #cache = new ExpiringMap<string, string>(MAX_ASSERTION_CACHE_ENTRIES);

  constructor(options: IdentityAssertionOptions) {
    this.#options = options;
  }

  /** Loads or creates the signing key. */
  ready(): Promise<SigningKey> {
    this.#key ??= this.#load();
    return this.#key;
  }

  async jwks(): Promise<{ keys: jose.JWK[] }> {
    const key = await this.ready();
    return { keys: [key.publicJwk] };
  }

  /** The assertion signed earlier for this session and app, while it has more than half its lifetime left. */
  cachedAssertionFor(identity: Identity, app: AppConfig): string | undefined {
    return this.#cache.get(cacheKey(identity, app), nowSeconds(this.#options.clock));
  }

  /**
   * The assertion for one user and app. Signing costs more than a request
   * should, so one is reused until half its lifetime is gone.
   */
  async assertionFor(identity: Identity, app: AppConfig): Promise<string> {
    const cached = this.cachedAssertionFor(identity, app);
    if (cached) return cached;
    const now = nowSeconds(this.#options.clock);
    const key = await this.ready();
    const lifetime = this.#options.lifetime;
    const groupsFit = JSON.stringify(identity.groups).length <= MAX_FORWARDED_GROUPS_BYTES;
    const token = await new jose.SignJWT({
      email: identity.email,
      name: identity.name,
      ...(groupsFit ? { groups: identity.groups } : { groups_omitted: true }),
      amr: identity.amr,
      acr: identity.acr,
      auth_time: identity.authTime,
      app: app.id,
    })
      .setProtectedHeader({ alg: ALG, kid: key.kid, typ: 'JWT' })
      .setIssuer(this.#options.issuer)
      .setSubject(identity.sub)
      .setAudience(externalUrlOf(app).origin)
      .setIssuedAt(now)
      .setNotBefore(now - 5)
      .setExpirationTime(Math.min(now + lifetime, identity.sessionExpiresAt))
      .setJti(randomUUID())
      .sign(key.privateKey);
    this.#cache.set(cacheKey(identity, app), token, now + Math.floor(lifetime / 2), now);
    return token;
  }

  async #load(): Promise<SigningKey> {
    if (this.#options.keyPem) return fromPrivateKey(await jose.importPKCS8(this.#options.keyPem, ALG, { extractable: true }));
    const store = await this.#options.store?.();
    if (store) {
      const existing = await store.get(STORE_KEY);
      if (existing === undefined) {
        const generated = await jose.generateKeyPair(ALG, { extractable: true });
        const jwk = await jose.exportJWK(generated.privateKey);
        // Several instances starting at once must agree on one key.
        if (await store.compareAndSet(STORE_KEY, undefined, JSON.stringify(jwk))) return fromPrivateKey(generated.privateKey);
      }
      const stored = JSON.parse((await store.get(STORE_KEY)) ?? '{}') as jose.JWK;
      return fromPrivateKey((await jose.importJWK(stored, ALG, { extractable: true })) as jose.CryptoKey);
    }
    const generated = await jose.generateKeyPair(ALG, { extractable: true });
    return fromPrivateKey(generated.privateKey);
  }
}

/** One assertion per session and app. */
function cacheKey(identity: Identity, app: AppConfig): string {
  return `${identity.sessionId}\u0000${app.id}`;
}

async function fromPrivateKey(privateKey: jose.CryptoKey): Promise<SigningKey> {
  const jwk = await jose.exportJWK(privateKey);
  const publicJwk: jose.JWK = { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };
  const kid = await jose.calculateJwkThumbprint(publicJwk);
  return { privateKey, kid, publicJwk: { ...publicJwk, kid, alg: ALG, use: 'sig' } };
}

/**
 * The identity assertion key ring shared through the store: every instance
 * signs with the key the ring names for the current time and publishes the
 * same JWKS. The ring is created, and rotated when `next` has taken over, by
 * compare-and-set, so instances doing it at once end with one ring; each
 * instance reads it again every ASSERTION_KEY_RING_RELOAD_MS.
 */
import * as jose from 'jose';
import { nowSeconds, type Clock } from '../clock.ts';
import { ASSERTION_KEY_RING_RELOAD_MS } from '../limits.ts';
import type { Store } from '../store/store.ts';
import {
  ASSERTION_ALG,
  AssertionKeyRingError,
  isRotationDue,
  newRing,
  parseRing,
  publishedAt,
  rotateRing,
  signingKeyAt,
  type RingTimes,
  type StoredKey,
  type StoredRing,
} from './assertion-keys.ts';

export const RING_STORE_KEY = 'identity-assertion-keys';
/** Where earlier versions kept their one generated key: it becomes the ring's first current key. */
const LEGACY_STORE_KEY = 'identity-assertion-key';
// Each lost compare-and-set means another instance wrote a newer ring; a few rounds settle any race.
const MAX_ROUNDS = 5;

export interface SigningKey {
  readonly privateKey: jose.CryptoKey;
  /** The public half, as the JWKS publishes it (with kid, alg, use). */
  readonly publicJwk: jose.JWK;
  readonly kid: string;
}

export interface AssertionKeyRingOptions extends RingTimes {
  readonly store: Store;
  readonly clock: Clock;
  /** Default ASSERTION_KEY_RING_RELOAD_MS. */
  readonly reloadMs?: number;
}

export class AssertionKeyRing {
  readonly #options: AssertionKeyRingOptions;
  #ring: StoredRing | undefined;
  /** When the last read of the store started (ms): a store that does not answer is asked again one interval later, not per request. */
  #readAt = Number.NEGATIVE_INFINITY;
  #loading: Promise<StoredRing> | undefined;
  /** Imported keys by their public point, so a key is imported once, not per signature. */
  #imported = new Map<string, Promise<SigningKey>>();

  constructor(options: AssertionKeyRingOptions) {
    this.#options = options;
  }

  /** Loads (creating or rotating) the ring once; later calls reuse it. */
  async ready(): Promise<void> {
    if (!this.#ring) await this.reload();
  }

  /** The key to sign with now. Never waits for the store once the ring is loaded: a due reload runs behind it. */
  async signingKey(): Promise<SigningKey> {
    const ring = this.#fresh() ?? (await this.reload());
    return this.#import(signingKeyAt(ring, this.#now()));
  }

  /** The public keys to publish now: retired (while its assertions may be valid), current, next. */
  async jwks(): Promise<{ keys: jose.JWK[] }> {
    const ring = this.#fresh() ?? (await this.reload());
    const keys = await Promise.all(publishedAt(ring, this.#now()).map(async (key) => (await this.#import(key)).publicJwk));
    return { keys };
  }

  /** Reads the ring from the store now, creating or rotating it there when due. One read at a time. */
  reload(): Promise<StoredRing> {
    if (!this.#loading) this.#readAt = this.#options.clock();
    this.#loading ??= this.#load().finally(() => {
      this.#loading = undefined;
    });
    return this.#loading;
  }

  /**
   * The loaded ring; starts a reload in the background once the last read is
   * one reload interval old. A rotation that fell due meanwhile waits for it:
   * signing already follows the ring's times. A store that does not answer
   * leaves this instance with the ring it has.
   */
  #fresh(): StoredRing | undefined {
    const ring = this.#ring;
    if (!ring) return undefined;
    if (this.#options.clock() - this.#readAt >= (this.#options.reloadMs ?? ASSERTION_KEY_RING_RELOAD_MS)) this.reload().catch(() => undefined);
    return ring;
  }

  async #load(): Promise<StoredRing> {
    const { store } = this.#options;
    for (let round = 0; round < MAX_ROUNDS; round += 1) {
      const now = this.#now();
      const text = await store.get(RING_STORE_KEY);
      if (text === undefined) {
        const legacy = await store.get(LEGACY_STORE_KEY);
        const ring = await newRing(now, this.#options, legacy === undefined ? undefined : (JSON.parse(legacy) as jose.JWK));
        if (await store.compareAndSet(RING_STORE_KEY, undefined, JSON.stringify(ring))) {
          if (legacy !== undefined) await store.delete(LEGACY_STORE_KEY);
          return this.#keep(ring);
        }
        continue;
      }
      const ring = parseRing(text);
      if (!isRotationDue(ring, now)) return this.#keep(ring);
      const rotated = await rotateRing(ring, now, this.#options);
      if (await store.compareAndSet(RING_STORE_KEY, text, JSON.stringify(rotated))) return this.#keep(rotated);
    }
    throw new AssertionKeyRingError('it kept changing while this instance read it');
  }

  #keep(ring: StoredRing): StoredRing {
    this.#ring = ring;
    // Keys that left the ring are forgotten with it.
    const live = new Set([ring.current, ring.next, ...(ring.retired ? [ring.retired] : [])].map(pointOf));
    for (const point of this.#imported.keys()) if (!live.has(point)) this.#imported.delete(point);
    return ring;
  }

  #import(key: StoredKey): Promise<SigningKey> {
    const point = pointOf(key);
    let imported = this.#imported.get(point);
    if (!imported) {
      imported = importSigningKey(key.jwk);
      this.#imported.set(point, imported);
    }
    return imported;
  }

  #now(): number {
    return nowSeconds(this.#options.clock);
  }
}

/** A key from the configuration or the ring, with its public half and kid (the RFC 7638 thumbprint). */
export async function signingKeyFrom(privateKey: jose.CryptoKey): Promise<SigningKey> {
  const jwk = await jose.exportJWK(privateKey);
  const publicJwk: jose.JWK = { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };
  const kid = await jose.calculateJwkThumbprint(publicJwk);
  return { privateKey, kid, publicJwk: { ...publicJwk, kid, alg: ASSERTION_ALG, use: 'sig' } };
}

function pointOf(key: StoredKey): string {
  return `${key.jwk.x ?? ''}.${key.jwk.y ?? ''}`;
}

async function importSigningKey(jwk: jose.JWK): Promise<SigningKey> {
  return signingKeyFrom((await jose.importJWK(jwk, ASSERTION_ALG, { extractable: true })) as jose.CryptoKey);
}

/**
 * The identity assertion signing keys as the store keeps them: a ring of the
 * `current` key, the `next` one (published in the JWKS long before it signs,
 * so verifiers that cache the JWKS already know it) and the key retired at the
 * last rotation, still published until the assertions it signed have expired.
 * Pure: no store, no clock of its own.
 */
import * as jose from 'jose';

export const ASSERTION_ALG = 'ES256';

export interface StoredKey {
  /** The private key as a JWK. */
  readonly jwk: jose.JWK;
  /** Seconds: when this key starts signing. */
  readonly from: number;
}

export interface StoredRing {
  readonly v: 1;
  readonly current: StoredKey;
  readonly next: StoredKey;
  /** The key `current` replaced, and when it leaves the JWKS (seconds). */
  readonly retired?: StoredKey & { readonly until: number };
}

export interface RingTimes {
  /** Seconds a key signs before the next takes over. */
  readonly rotation: number;
  /** Seconds a retired key stays published after it stopped signing: an assertion lifetime and a margin. */
  readonly retention: number;
}

/** The stored ring is not one this version wrote. */
export class AssertionKeyRingError extends Error {
  readonly code = 'ERR_ASSERTION_KEY_RING_INVALID';

  constructor(problem: string) {
    super(`The identity assertion key ring in the store cannot be read: ${problem}.`);
    this.name = 'AssertionKeyRingError';
  }
}

/** A first ring: `first` (a key kept from an earlier version, or a new one) signs now, a new key from `now + rotation`. */
export async function newRing(now: number, times: RingTimes, first?: jose.JWK): Promise<StoredRing> {
  return { v: 1, current: { jwk: first ?? (await generateJwk()), from: now }, next: { jwk: await generateJwk(), from: now + times.rotation } };
}

/** Whether `next` has started signing, so the ring in the store should move on. */
export function isRotationDue(ring: StoredRing, now: number): boolean {
  return now >= ring.next.from;
}

/** The ring after `next` took over: the old current retired, a new next due one rotation later. */
export async function rotateRing(ring: StoredRing, now: number, times: RingTimes): Promise<StoredRing> {
  return {
    v: 1,
    retired: { ...ring.current, until: ring.next.from + times.retention },
    current: ring.next,
    // A gateway stopped past a rotation starts the next period from now, so `next` is always published for a full period.
    next: { jwk: await generateJwk(), from: Math.max(ring.next.from, now) + times.rotation },
  };
}

/** The key that signs at `now`: `next` once its time has come, even before the store's ring has been rotated. */
export function signingKeyAt(ring: StoredRing, now: number): StoredKey {
  return now >= ring.next.from ? ring.next : ring.current;
}

/** The keys the JWKS publishes at `now`: the retired key while its assertions may still be valid, current and next. */
export function publishedAt(ring: StoredRing, now: number): StoredKey[] {
  return [...(ring.retired && now < ring.retired.until ? [ring.retired] : []), ring.current, ring.next];
}

export function parseRing(text: string): StoredRing {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AssertionKeyRingError('it is not JSON');
  }
  const ring = value as Partial<Record<keyof StoredRing, unknown>>;
  if (ring.v !== 1) throw new AssertionKeyRingError(`format version ${JSON.stringify(ring.v)} is not one this version reads`);
  if (!isStoredKey(ring.current) || !isStoredKey(ring.next)) throw new AssertionKeyRingError('it lacks its current or next key');
  if (ring.retired !== undefined && !(isStoredKey(ring.retired) && typeof (ring.retired as { until?: unknown }).until === 'number')) {
    throw new AssertionKeyRingError('its retired key is malformed');
  }
  return value as StoredRing;
}

function isStoredKey(value: unknown): value is StoredKey {
  if (typeof value !== 'object' || value === null) return false;
  const key = value as Partial<Record<keyof StoredKey, unknown>>;
  const jwk = key.jwk as jose.JWK | undefined;
  return typeof key.from === 'number' && typeof jwk === 'object' && jwk.kty === 'EC' && jwk.crv === 'P-256' && typeof jwk.d === 'string';
}

async function generateJwk(): Promise<jose.JWK> {
  const generated = await jose.generateKeyPair(ASSERTION_ALG, { extractable: true });
  return jose.exportJWK(generated.privateKey);
}

import { hash, timingSafeEqual } from 'node:crypto';
import { ExpiringMap } from './expiring-map.ts';

/**
 * Remembers cookies that unsealed successfully, keyed by the SHA-256 of the
 * exact sealed value. Unsealing (two PBKDF2 derivations, an HMAC and an AES
 * decryption through WebCrypto, then schema validation) cost more than half
 * of a gated request's CPU in bench/ (docs/benchmarks.md); a browser sends
 * the same cookie on every request until it is refreshed.
 *
 * Only successful results are kept, so forged or tampered values always pay
 * the full check and cannot fill the cache; any change to the value changes
 * the key. The checks that depend on time or on server state (expiry, idle
 * time, app binding, revocation) still run on every request after a hit.
 *
 * The digest itself (a SHA-256 of a cookie of a kilobyte or more) became the
 * gate's largest cost once unsealing was cached, so the connection a value
 * was last accepted on (`holder`, the request's socket) also keeps that value
 * and its record: the next request on the same keep-alive connection with the
 * very same string (compared in full) skips the digest. One entry per
 * connection, gone with it, under this cache's own symbol (a new session
 * manager, with new keys, never sees it), and only until the same expiry.
 */
export class UnsealCache<T> {
  readonly #entries: ExpiringMap<string, Remembered<T>>;
  readonly #onHolder = Symbol('gatehouse.unsealed');

  constructor(capacity: number) {
    this.#entries = new ExpiringMap(capacity);
  }

  get(sealed: string, now: number, holder?: object | null): T | undefined {
    const held = holder ? (holder as Holder<T>)[this.#onHolder] : undefined;
    if (held !== undefined && held.until > now && sameValue(held.sealed, sealed)) return held.value;
    const remembered = this.#entries.get(digest(sealed), now);
    if (remembered === undefined) return undefined;
    if (holder) (holder as Holder<T>)[this.#onHolder] = { sealed, ...remembered };
    return remembered.value;
  }

  /** `until`: epoch seconds after which the value would be refused anyway. */
  set(sealed: string, value: T, until: number, now: number, holder?: object | null): void {
    if (until <= now) return;
    const remembered = { value: Object.freeze(value), until };
    this.#entries.set(digest(sealed), remembered, until, now);
    if (holder) (holder as Holder<T>)[this.#onHolder] = { sealed, ...remembered };
  }

  get size(): number {
    return this.#entries.size;
  }
}

interface Remembered<T> {
  readonly value: T;
  readonly until: number;
}

type Holder<T> = Record<symbol, (Remembered<T> & { readonly sealed: string }) | undefined>;

/**
 * In constant time for values of one length: a connection behind a shared proxy (a CDN reusing its connections to
 * the gateway) carries several users' requests, so the value held may be another user's cookie, and how soon a
 * plain comparison stops would tell a caller how much of it they guessed.
 */
function sameValue(held: string, presented: string): boolean {
  if (held.length !== presented.length) return false;
  const a = Buffer.from(held, 'latin1');
  const b = Buffer.from(presented, 'latin1');
  return a.length === b.length && timingSafeEqual(a, b) && held === presented;
}

function digest(sealed: string): string {
  return hash('sha256', sealed, 'base64url');
}

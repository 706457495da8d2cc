import { hash } from 'node:crypto';
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
 */
export class UnsealCache<T> {
  readonly #entries: ExpiringMap<string, T>;

  constructor(capacity: number) {
    this.#entries = new ExpiringMap(capacity);
  }

  get(sealed: string, now: number): T | undefined {
    return this.#entries.get(digest(sealed), now);
  }

  /** `until`: epoch seconds after which the value would be refused anyway. */
  set(sealed: string, value: T, until: number, now: number): void {
    if (until > now) this.#entries.set(digest(sealed), Object.freeze(value), until, now);
  }

  get size(): number {
    return this.#entries.size;
  }
}

function digest(sealed: string): string {
  return hash('sha256', sealed, 'base64url');
}

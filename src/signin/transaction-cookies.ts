import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import * as client from 'openid-client';
import { nowSeconds, type Clock } from '../clock.ts';
import { MAX_LIVE_SIGNIN_ATTEMPTS, SIGNIN_ATTEMPT_TTL_SECONDS } from '../limits.ts';
import { expireCookie, GATEHOUSE_PATH, readCookies, serializeCookie, transactionCookiePrefix } from '../session/cookies.ts';
import type { PasswordMap } from '../session/seal-keys.ts';
import { seal, unseal, type UnsealFailure } from '../session/sealer.ts';
import { transactionRecordSchema, type TransactionRecord } from '../session/session-record.ts';

export interface NewTransaction {
  readonly record: TransactionRecord;
  readonly setCookies: readonly string[];
}

export type TransactionLookup =
  | { readonly ok: true; readonly record: TransactionRecord; readonly cookieName: string }
  | { readonly ok: false; readonly reason: 'missing' | UnsealFailure | 'state_mismatch' | 'expired' };

/**
 * One short-lived sealed cookie per sign-in attempt, named after its state
 * and scoped to /.gatehouse/, so parallel tabs never clobber each other and
 * stale attempts never pile up.
 */
export class TransactionCookies {
  readonly #passwords: PasswordMap;
  readonly #clock: Clock;

  constructor(passwords: PasswordMap, clock: Clock) {
    this.#passwords = passwords;
    this.#clock = clock;
  }

  /** Starts an attempt, evicting the oldest live ones beyond the cap. */
  async create(req: IncomingMessage, app: string, secure: boolean, returnTo: string, stepUp?: TransactionRecord['su']): Promise<NewTransaction> {
    const now = nowSeconds(this.#clock);
    const record: TransactionRecord = {
      v: 1,
      k: 'transaction',
      app,
      state: client.randomState(),
      nonce: client.randomNonce(),
      verifier: client.randomPKCECodeVerifier(),
      rt: returnTo,
      c: now,
      ...(stepUp ? { su: stepUp } : {}),
    };
    const value = await seal(record, this.#passwords, SIGNIN_ATTEMPT_TTL_SECONDS);
    const live = this.#liveNames(req, secure);
    const evict = live.slice(0, Math.max(0, live.length - (MAX_LIVE_SIGNIN_ATTEMPTS - 1)));
    const setCookies = [
      ...evict.map((name) => expireCookie(name, { secure, path: GATEHOUSE_PATH })),
      serializeCookie(this.#name(secure, now, record.state), value, {
        secure,
        path: GATEHOUSE_PATH,
        maxAge: SIGNIN_ATTEMPT_TTL_SECONDS,
      }),
    ];
    return { record, setCookies };
  }

  /** Finds and verifies the attempt a callback's `state` belongs to. */
  async find(req: IncomingMessage, secure: boolean, state: string): Promise<TransactionLookup> {
    const suffix = `-${stateHash(state)}`;
    const prefix = transactionCookiePrefix(secure);
    const cookies = readCookies(req);
    const cookieName = Object.keys(cookies).find((name) => name.startsWith(prefix) && name.endsWith(suffix));
    if (cookieName === undefined) return { ok: false, reason: 'missing' };
    const unsealed = await unseal(cookies[cookieName] ?? '', this.#passwords, transactionRecordSchema);
    if (!unsealed.ok) return { ok: false, reason: unsealed.reason };
    if (unsealed.value.state !== state) return { ok: false, reason: 'state_mismatch' };
    if (nowSeconds(this.#clock) - unsealed.value.c > SIGNIN_ATTEMPT_TTL_SECONDS) return { ok: false, reason: 'expired' };
    return { ok: true, record: unsealed.value, cookieName };
  }

  expire(name: string, secure: boolean): string {
    return expireCookie(name, { secure, path: GATEHOUSE_PATH });
  }

  /** Live attempt cookie names, oldest first (their names carry the creation time). */
  #liveNames(req: IncomingMessage, secure: boolean): string[] {
    const prefix = transactionCookiePrefix(secure);
    return Object.keys(readCookies(req))
      .filter((name) => name.startsWith(prefix))
      .map((name) => ({ name, created: Number.parseInt(name.slice(prefix.length).split('-')[0] ?? '', 36) }))
      .sort((a, b) => (Number.isFinite(a.created) ? a.created : 0) - (Number.isFinite(b.created) ? b.created : 0))
      .map((entry) => entry.name);
  }

  #name(secure: boolean, created: number, state: string): string {
    return `${transactionCookiePrefix(secure)}${created.toString(36)}-${stateHash(state)}`;
  }
}

function stateHash(state: string): string {
  return createHash('sha256').update(state).digest('base64url').slice(0, 16);
}

export function randomId(bytes = 16): string {
  return randomBytes(bytes).toString('base64url');
}

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { nowSeconds, type Clock } from '../clock.ts';
import { SIGNIN_LOOP_MAX_COUNT, SIGNIN_LOOP_THRESHOLD, SIGNIN_LOOP_WINDOW_SECONDS } from '../limits.ts';
import { expireCookie, GATEHOUSE_PATH, loopCookieName, readCookies, serializeCookie } from '../session/cookies.ts';
import type { PasswordMap } from '../session/seal-keys.ts';

/** Why a loop cookie was not believed. */
export type LoopCookieRefusal = 'malformed' | 'unknown_key' | 'tampered' | 'future';

export interface LoopCheck {
  /** A new sign-in from this browser would repeat a loop. */
  readonly looping: boolean;
  /** Set when a loop cookie was present but ignored: audit it, and clear it with `clearCookie`. */
  readonly refused?: LoopCookieRefusal;
}

/**
 * Detects the redirect loop of a browser that completed a sign-in moments
 * ago but arrives to sign in again, because it did not keep (or send back)
 * the session cookie. Callbacks count themselves in a small cookie
 * (`count.first.keyId.mac`) that only this gateway can write: a sibling
 * subdomain can plant a cookie, but not one with a valid MAC for this app,
 * so a planted, tampered or foreign value is ignored and never blocks a
 * sign-in. A time in the future is ignored too, and the count is bounded.
 */
export class SignInLoopDetector {
  readonly #clock: Clock;
  readonly #keys: PasswordMap;
  readonly #sealingId: number;

  /**
   * `keys`: MAC keys by id (the highest id signs, every id verifies), from
   * `deriveSealKeys(...).loop`. Without them a random key of this process is
   * used: a cookie written by another instance is then ignored, which only
   * means its loop goes unnoticed there.
   */
  constructor(clock: Clock, keys?: PasswordMap) {
    this.#clock = clock;
    this.#keys = keys && Object.keys(keys).length > 0 ? keys : { 1: randomBytes(32).toString('base64url') };
    this.#sealingId = Math.max(...Object.keys(this.#keys).map(Number));
  }

  /** Whether a new sign-in for `app` from this browser would repeat a loop. */
  check(req: IncomingMessage, app: string, secure: boolean): LoopCheck {
    const state = this.#read(req, app, secure);
    if ('refused' in state) return { looping: false, refused: state.refused };
    return { looping: state.current !== undefined && state.current.count >= SIGNIN_LOOP_THRESHOLD };
  }

  /** The Set-Cookie line recording one more completed sign-in for `app`. */
  recordCompletion(req: IncomingMessage, app: string, secure: boolean): string {
    const now = nowSeconds(this.#clock);
    const state = this.#read(req, app, secure);
    const current = 'current' in state ? state.current : undefined;
    const count = Math.min(SIGNIN_LOOP_MAX_COUNT, (current?.count ?? 0) + 1);
    const first = current?.first ?? now;
    const body = `${count}.${first}`;
    return serializeCookie(loopCookieName(secure), `${body}.${this.#sealingId}.${this.#mac(this.#sealingId, app, body)}`, {
      secure,
      path: GATEHOUSE_PATH,
      maxAge: Math.max(1, first + SIGNIN_LOOP_WINDOW_SECONDS - now),
    });
  }

  /** Clears a refused loop cookie (one set by this host; one planted for a parent domain stays, and stays ignored). */
  clearCookie(secure: boolean): string {
    return expireCookie(loopCookieName(secure), { secure, path: GATEHOUSE_PATH });
  }

  #read(
    req: IncomingMessage,
    app: string,
    secure: boolean,
  ): { readonly current: { readonly count: number; readonly first: number } | undefined } | { readonly refused: LoopCookieRefusal } {
    const raw = readCookies(req)[loopCookieName(secure)];
    if (raw === undefined || raw === '') return { current: undefined };
    const match = /^(\d{1,3})\.(\d{1,12})\.(\d{1,9})\.([A-Za-z0-9_-]{43})$/.exec(raw);
    if (!match) return { refused: 'malformed' };
    const [, countText = '', firstText = '', idText = '', mac = ''] = match;
    const id = Number(idText);
    if (this.#keys[id] === undefined) return { refused: 'unknown_key' };
    const expected = Buffer.from(this.#mac(id, app, `${countText}.${firstText}`));
    if (!timingSafeEqual(expected, Buffer.from(mac))) return { refused: 'tampered' };
    const count = Number(countText);
    const first = Number(firstText);
    if (count < 1 || count > SIGNIN_LOOP_MAX_COUNT) return { refused: 'malformed' };
    const now = nowSeconds(this.#clock);
    // Our own clock wrote it, so a future time means a clock that jumped back (or another instance's skew): never a reason to block.
    if (first > now) return { refused: 'future' };
    if (now - first > SIGNIN_LOOP_WINDOW_SECONDS) return { current: undefined };
    return { current: { count, first } };
  }

  /** Bound to the app, so a genuine cookie of one app cannot be replayed on another. */
  #mac(id: number, app: string, body: string): string {
    return createHmac('sha256', this.#keys[id] ?? '')
      .update(`gatehouse/signin-loop/v1\n${app}\n${body}`)
      .digest('base64url');
  }
}

import type { IncomingMessage } from 'node:http';
import { nowSeconds, type Clock } from '../clock.ts';
import { SIGNIN_LOOP_THRESHOLD, SIGNIN_LOOP_WINDOW_SECONDS } from '../limits.ts';
import { GATEHOUSE_PATH, loopCookieName, readCookies, serializeCookie } from '../session/cookies.ts';

/**
 * Detects the redirect loop of field lesson 1: a browser that completed a
 * sign-in moments ago but arrives to sign in again, because it did not keep
 * (or send back) the session cookie. Callbacks count themselves in a small
 * unsigned cookie; forging it can only hurt the forger.
 */
export class SignInLoopDetector {
  readonly #clock: Clock;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Whether a new sign-in from this browser would repeat a loop. */
  isLooping(req: IncomingMessage, secure: boolean): boolean {
    const state = this.#read(req, secure);
    return state !== undefined && state.count >= SIGNIN_LOOP_THRESHOLD;
  }

  /** The Set-Cookie line recording one more completed sign-in. */
  recordCompletion(req: IncomingMessage, secure: boolean): string {
    const now = nowSeconds(this.#clock);
    const state = this.#read(req, secure);
    const count = (state?.count ?? 0) + 1;
    const first = state?.first ?? now;
    return serializeCookie(loopCookieName(secure), `${count}.${first}`, {
      secure,
      path: GATEHOUSE_PATH,
      maxAge: Math.max(1, first + SIGNIN_LOOP_WINDOW_SECONDS - now),
    });
  }

  #read(req: IncomingMessage, secure: boolean): { count: number; first: number } | undefined {
    const raw = readCookies(req)[loopCookieName(secure)];
    const match = raw === undefined ? null : /^(\d{1,3})\.(\d{1,12})$/.exec(raw);
    if (!match) return undefined;
    const count = Number(match[1]);
    const first = Number(match[2]);
    if (nowSeconds(this.#clock) - first > SIGNIN_LOOP_WINDOW_SECONDS) return undefined;
    return { count, first };
  }
}

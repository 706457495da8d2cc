import { createHmac } from 'node:crypto';
import type { SessionSecret } from '../config/parse.ts';

/** iron-session's password map: the highest id seals, every id unseals. */
export type PasswordMap = Readonly<Record<number, string>>;

export interface SealKeys {
  readonly session: PasswordMap;
  readonly transaction: PasswordMap;
  /** MAC keys of the sign-in loop cookie (SignInLoopDetector). */
  readonly loop: PasswordMap;
  /** Seals refresh tokens kept in the session store (never in a cookie). */
  readonly refresh: PasswordMap;
}

/**
 * Derives one password map per cookie purpose from the configured secrets, so
 * a sign-in transaction cookie can never be presented as a session cookie (or
 * the reverse) even though both are sealed with the same configured secret,
 * and the loop cookie's MAC key is none of the sealing keys.
 */
export function deriveSealKeys(secrets: readonly SessionSecret[]): SealKeys {
  const derive = (purpose: string): PasswordMap => {
    const map: Record<number, string> = {};
    for (const { id, secret } of secrets) {
      map[id] = createHmac('sha256', secret).update(`gatehouse/${purpose}/v1`).digest('base64url');
    }
    return Object.freeze(map);
  };
  return Object.freeze({ session: derive('session'), transaction: derive('transaction'), loop: derive('signin-loop'), refresh: derive('refresh-token') });
}

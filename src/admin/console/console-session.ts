/**
 * The console's sign-in, kept in one sealed cookie on the admin listener's host: who
 * signed in, whether the configured admin role was in their ID token, and the random
 * token every form of theirs must send back (CSRF). Nothing is stored server side.
 * Its keys are derived from the session secrets for this purpose alone, so neither a
 * user's session cookie nor a sign-in attempt of a published app is accepted here.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { SessionSecret } from '../../config/parse.ts';
import { appendSetCookie, expireCookie, readCookies, serializeCookie } from '../../session/cookies.ts';
import type { PasswordMap } from '../../session/seal-keys.ts';
import { seal, unseal } from '../../session/sealer.ts';

/**
 * How long a console sign-in lasts; then the operator signs in again. Short, because the admin role is
 * judged at sign-in: one taken away at the identity provider is seen at the next sign-in.
 */
export const CONSOLE_SESSION_SECONDS = 60 * 60;

const sessionSchema = z.strictObject({
  v: z.literal(1),
  k: z.literal('admin-console'),
  sub: z.string().min(1).max(512),
  name: z.string().max(512).optional(),
  email: z.string().max(512).optional(),
  admin: z.boolean(),
  csrf: z.string().min(22).max(64),
});

export type ConsoleSession = z.infer<typeof sessionSchema>;

export interface ConsoleKeys {
  readonly session: PasswordMap;
  readonly transaction: PasswordMap;
}

export function consoleKeys(secrets: readonly SessionSecret[]): ConsoleKeys {
  const derive = (purpose: string): PasswordMap => {
    const map: Record<number, string> = {};
    for (const { id, secret } of secrets) map[id] = createHmac('sha256', secret).update(`gatehouse/${purpose}/v1`).digest('base64url');
    return Object.freeze(map);
  };
  return { session: derive('admin-console-session'), transaction: derive('admin-console-transaction') };
}

export function consoleCookieName(secure: boolean): string {
  return secure ? '__Host-gh-admin' : 'gh-admin';
}

export async function readConsoleSession(req: IncomingMessage, keys: ConsoleKeys, secure: boolean): Promise<ConsoleSession | undefined> {
  const value = readCookies(req)[consoleCookieName(secure)];
  if (value === undefined) return undefined;
  const unsealed = await unseal(value, keys.session, sessionSchema);
  return unsealed.ok ? unsealed.value : undefined;
}

export async function writeConsoleSession(
  res: ServerResponse,
  keys: ConsoleKeys,
  secure: boolean,
  who: Omit<ConsoleSession, 'v' | 'k' | 'csrf'>,
): Promise<void> {
  const session: ConsoleSession = { v: 1, k: 'admin-console', ...who, csrf: randomBytes(24).toString('base64url') };
  const sealed = await seal(session, keys.session, CONSOLE_SESSION_SECONDS);
  appendSetCookie(res, serializeCookie(consoleCookieName(secure), sealed, { secure, path: '/', maxAge: CONSOLE_SESSION_SECONDS }));
}

export function clearConsoleSession(res: ServerResponse, secure: boolean): void {
  appendSetCookie(res, expireCookie(consoleCookieName(secure), { secure, path: '/' }));
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseCookie, stringifySetCookie } from 'cookie';

/** Gatehouse's own cookies all live under /.gatehouse/ except the session cookie. */
export const GATEHOUSE_PATH = '/.gatehouse/';

export interface CookieAttributes {
  readonly secure: boolean;
  readonly path: string;
  /** Seconds; omitted for a non-persistent (browser-session) cookie. */
  readonly maxAge?: number | undefined;
}

/** `__Host-` binds the cookie to the exact host, https and Path=/ (RFC 6265bis §4.1.3.2). */
export function sessionCookieName(base: string, secure: boolean): string {
  return secure ? `__Host-${base}` : base;
}

export function transactionCookiePrefix(secure: boolean): string {
  return secure ? '__Secure-gh-tx-' : 'gh-tx-';
}

export function loopCookieName(secure: boolean): string {
  return secure ? '__Secure-gh-loop' : 'gh-loop';
}

/** Whether a cookie belongs to Gatehouse and must never reach a backend. */
export function isGatehouseCookie(name: string, sessionBase: string): boolean {
  const bare = name.replace(/^__(Host|Secure)-/, '');
  return bare === sessionBase || bare.startsWith('gh-tx-') || bare === 'gh-loop';
}

export function serializeCookie(name: string, value: string, attributes: CookieAttributes): string {
  return stringifySetCookie({
    name,
    value,
    path: attributes.path,
    httpOnly: true,
    secure: attributes.secure,
    sameSite: 'lax',
    ...(attributes.maxAge !== undefined ? { maxAge: attributes.maxAge } : {}),
  });
}

export function expireCookie(name: string, attributes: Omit<CookieAttributes, 'maxAge'>): string {
  return serializeCookie(name, '', { ...attributes, maxAge: 0 });
}

export function appendSetCookie(res: ServerResponse, line: string): void {
  const existing = res.getHeader('Set-Cookie');
  if (existing === undefined) res.setHeader('Set-Cookie', [line]);
  else res.setHeader('Set-Cookie', [...(Array.isArray(existing) ? existing : [String(existing)]), line]);
}

/** On the request under this symbol: cheaper than a WeakMap entry per request. */
const PARSED = Symbol('gatehouse.cookies');

type Parsed = IncomingMessage & { [PARSED]?: Readonly<Record<string, string>> };

/** The request's cookies, parsed once. Values are not URI-decoded: seals are base64url already. */
export function readCookies(req: IncomingMessage): Readonly<Record<string, string>> {
  const cached = (req as Parsed)[PARSED];
  if (cached) return cached;
  const header = req.headers.cookie;
  const out: Record<string, string> = {};
  if (header) {
    const all = parseCookie(header, { decode: (value) => value });
    for (const [name, value] of Object.entries(all)) if (value !== undefined) out[name] = value;
  }
  const frozen = Object.freeze(out);
  (req as Parsed)[PARSED] = frozen;
  return frozen;
}

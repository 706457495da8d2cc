/**
 * Gatehouse's own cookies, recognised the way a lenient reader would: names
 * compared without case (browsers treat the `__Host-`/`__Secure-` prefixes
 * case-insensitively, and some backends fold cookie names), and a nameless
 * `Set-Cookie` (`=__Host-gatehouse=…`) read by its value, because a browser
 * sends such a cookie back as `__Host-gatehouse=…`.
 */
export function isGatehouseCookieName(name: string, sessionCookieBase: string): boolean {
  const bare = name
    .trim()
    .toLowerCase()
    .replace(/^__(?:host|secure)-/, '');
  // gh-admin: the admin console's sign-in, sent along when the console shares a host name with an app (cookies ignore ports).
  return bare === sessionCookieBase.toLowerCase() || bare.startsWith('gh-tx-') || bare === 'gh-loop' || bare === 'gh-admin';
}

/** Keeps the app's own cookies, byte for byte, and drops every pair that names one of Gatehouse's. */
export function withoutGatehouseCookies(header: string, sessionCookieBase: string): string {
  const kept: string[] = [];
  for (const raw of header.split(';')) {
    const pair = raw.trim();
    if (!pair) continue;
    // A cookie's name is everything before its first "=" (RFC 6265 §5.2); a pair without "=" is all name.
    const equals = pair.indexOf('=');
    if (!isGatehouseCookieName(equals < 0 ? pair : pair.slice(0, equals), sessionCookieBase)) kept.push(pair);
  }
  return kept.join('; ');
}

/** Whether a backend's `Set-Cookie` line would set, overwrite or clear one of Gatehouse's cookies. */
export function setsGatehouseCookie(line: string, sessionCookieBase: string): boolean {
  const semicolon = line.indexOf(';');
  const pair = (semicolon < 0 ? line : line.slice(0, semicolon)).trim();
  const equals = pair.indexOf('=');
  // RFC 6265bis §5.6: without "=", the whole pair is the value and the name is empty.
  const name = equals < 0 ? '' : pair.slice(0, equals).trim();
  if (name) return isGatehouseCookieName(name, sessionCookieBase);
  const value = (equals < 0 ? pair : pair.slice(equals + 1)).trim();
  const valueEquals = value.indexOf('=');
  return isGatehouseCookieName(valueEquals < 0 ? value : value.slice(0, valueEquals), sessionCookieBase);
}

/**
 * The query string as the access log may show it (only with `logging.accessLog.query`): every parameter kept in
 * place, the values of those whose name says they carry a secret replaced by `[redacted]`.
 */

/** A parameter whose name contains one of these (any case) has its value redacted. */
export const SECRET_QUERY_NAME_PARTS = [
  'code',
  'state',
  'token',
  'password',
  'passwd',
  'secret',
  'key',
  'session',
  'auth',
  'assertion',
  'signature',
  'credential',
  'nonce',
  'ticket',
  'jwt',
  'otp',
] as const;

/** Short names that carry secrets but are too short to match by part. */
const SECRET_QUERY_NAMES = new Set(['sig', 'pwd', 'pass', 'pw']);

export const REDACTED = '[redacted]';

/** Whether a parameter of this name (as sent, percent-encoded or not) has its value redacted. */
export function isSecretQueryName(raw: string): boolean {
  const name = decodeName(raw).toLowerCase();
  return SECRET_QUERY_NAMES.has(name) || SECRET_QUERY_NAME_PARTS.some((part) => name.includes(part));
}

/** `query` is what follows `?`, without it. */
export function redactQuery(query: string): string {
  return query
    .split('&')
    .map((pair) => {
      const equals = pair.indexOf('=');
      if (equals === -1) return pair;
      const name = pair.slice(0, equals);
      return isSecretQueryName(name) ? `${name}=${REDACTED}` : pair;
    })
    .join('&');
}

function decodeName(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    // Broken percent-encoding: a name that cannot be read is treated as a secret one.
    return 'secret';
  }
}

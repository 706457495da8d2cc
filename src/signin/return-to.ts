import { MAX_RETURN_URL_LENGTH } from '../limits.ts';

// Raw or percent-encoded control characters and backslashes.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const FORBIDDEN = /[\x00-\x1f\x7f\\]|%(?:[01][0-9a-f]|7f|5c)/i;

/**
 * Returns the same-origin path to send the user back to after sign-in, or
 * undefined when the candidate could lead anywhere else: `//evil.example`,
 * `/\evil.example`, `https:evil.example`, `javascript:`, other origins, CR/LF.
 */
export function safeReturnTo(candidate: string, origin: string): string | undefined {
  if (candidate.length === 0 || candidate.length > MAX_RETURN_URL_LENGTH) return undefined;
  if (FORBIDDEN.test(candidate)) return undefined;
  const isPath = candidate.startsWith('/') && !candidate.startsWith('//');
  const isSameOriginUrl = candidate.startsWith(`${origin}/`) || candidate === origin;
  if (!isPath && !isSameOriginUrl) return undefined;
  let url: URL;
  try {
    url = new URL(candidate, origin);
  } catch {
    return undefined;
  }
  if (url.origin !== origin) return undefined;
  const path = `${url.pathname}${url.search}`;
  // A path that a browser, or a backend decoding it once, would read as protocol-relative is never emitted.
  if (/^\/(?:\/|\\|%2f|%5c)/i.test(path)) return undefined;
  return path;
}

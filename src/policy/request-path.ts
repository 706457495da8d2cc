/**
 * The forms of a request path that a backend might act on. The gateway
 * forwards the path as the client wrote it, and backends differ: one decodes
 * `%2F`, one resolves `..`, one drops `;params`, one ignores case (Express and
 * IIS do by default). A path condition holds when it covers any of these
 * forms, so `/public/..%2Fadmin/`, `//ADMIN/` and `/admin;x/` all fall under
 * a policy for `/admin/`. Over-matching is the safe side: a policy only ever
 * adds requirements.
 */

import { decodeRepeatedly } from '../request/percent-decode.ts';

/**
 * Lower-cased forms of the path (query and fragment cut off), or `undefined`
 * when it cannot be read safely — not starting with `/`, malformed or
 * endlessly nested percent-encoding, control characters — in which case every
 * path condition matches.
 */
export function requestPathForms(raw: string): readonly string[] | undefined {
  const path = raw.split(/[?#]/, 1)[0] ?? '';
  if (!path.startsWith('/') || hasControl(path)) return undefined;
  const decoded = decodeRepeatedly(path);
  if (decoded === undefined) return undefined;
  // A decoded space (`%20`) is ordinary; a decoded NUL or newline is not.
  if (hasControl(decoded.replaceAll(' ', '_'))) return undefined;
  return [...new Set([collapseSlashes(path), canonicalPath(path), canonicalPath(decoded)].map((form) => form.toLowerCase()))];
}

/** A policy's path as compared: lower-cased, repeated slashes collapsed. */
export function canonicalPattern(pattern: string): string {
  return collapseSlashes(pattern).toLowerCase();
}

/** Controls and spaces: never in a well-formed request target, so their meaning to a backend is anyone's guess. */
function hasControl(path: string): boolean {
  for (let index = 0; index < path.length; index += 1) {
    const code = path.charCodeAt(index);
    if (code <= 0x20 || code === 0x7f) return true;
  }
  return false;
}

function collapseSlashes(path: string): string {
  return path.replace(/\/{2,}/g, '/');
}

/** Backslashes as slashes, `;params` dropped, slashes collapsed, dot segments resolved (RFC 3986 §5.2.4). */
function canonicalPath(path: string): string {
  const segments = collapseSlashes(path.replace(/\\/g, '/').replace(/;[^/]*/g, ''))
    .split('/')
    .slice(1);
  const output: string[] = [];
  segments.forEach((segment, index) => {
    const last = index === segments.length - 1;
    if (segment === '.' || segment === '..') {
      if (segment === '..') output.pop();
      if (last) output.push('');
    } else {
      output.push(segment);
    }
  });
  return `/${output.join('/')}`;
}

/**
 * An app's internal URL may carry a path (`http://10.0.0.5:8080/wiki/`): the
 * forwarder sends the base path followed by the request target as received,
 * so `/../admin` arrives as `/wiki/../admin`, which a backend or a proxy in
 * front of it resolves to `/admin`, outside the app. Browsers resolve dot
 * segments before they send a request, so a target that still carries one,
 * in any spelling a backend might decode (`%2e%2e`, `%252e`, `..;x`, `..\`),
 * is refused for such an app instead of forwarded.
 */

import { decodeRepeatedly } from '../request/percent-decode.ts';

/** Whether forwarding `target` to an app with this internal URL could reach above the URL's path. */
export function leavesBasePath(internalUrl: string, target: string): boolean {
  return hasBasePath(internalUrl) && hasDotSegment(target);
}

/** Whether the internal URL has a path for a target to leave (decided once per app: it parses the URL). */
export function hasBasePath(internalUrl: string): boolean {
  return new URL(internalUrl).pathname.replace(/\/+$/, '') !== '';
}

/** Whether `target`'s path, decoded as a backend might, holds a `.` or `..` segment: the per-request half of `leavesBasePath`. */
export function hasDotSegment(target: string): boolean {
  const path = decodeRepeatedly(target.split(/[?#]/, 1)[0] ?? '');
  if (path === undefined) return true;
  // Tomcat and Jetty drop `;params` from a segment before resolving it: `..;x` is `..` to them.
  return path.split(/[/\\]/).some((segment) => {
    const bare = segment.replace(/;.*$/, '');
    return bare === '.' || bare === '..';
  });
}

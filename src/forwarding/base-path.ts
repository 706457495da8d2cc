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
  const base = new URL(internalUrl).pathname.replace(/\/+$/, '');
  if (base === '') return false;
  const path = decodeRepeatedly(target.split(/[?#]/, 1)[0] ?? '');
  if (path === undefined) return true;
  // Tomcat and Jetty drop `;params` from a segment before resolving it: `..;x` is `..` to them.
  return path.split(/[/\\]/).some((segment) => {
    const bare = segment.replace(/;.*$/, '');
    return bare === '.' || bare === '..';
  });
}

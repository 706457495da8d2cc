import { GatehouseError } from '../errors/index.ts';
import { requestPathForms } from '../policy/request-path.ts';
import { CONTINUE, type Step } from './step.ts';

/**
 * Characters a request target may carry: RFC 3986's path and query
 * characters (unreserved, sub-delims, `:`, `@`, `/`, `?`, and `%` followed by
 * two hex digits), plus `[ ] { } | ^` and the backtick, which browsers send
 * unencoded in queries and some in paths; refusing them would break real
 * apps, and none of them changes which path is meant.
 */
const PATH_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/%[\]{}|^`]*$/;
const QUERY_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/?%[\]{}|^`\\]*$/;
const BAD_PERCENT = /%(?![0-9A-Fa-f]{2})/;

/**
 * Why a request target is refused, or `undefined` when it is well-formed.
 * A fragment (`#`) is never sent by a client, and a backend may cut the
 * path at it while Gatehouse checked the whole, so `/x#/../admin/` would be
 * authorized as one path and served as another. A backslash in the path is
 * read as a slash by some servers and not by others.
 */
export function requestTargetProblem(target: string): string | undefined {
  const query = target.indexOf('?');
  const path = query < 0 ? target : target.slice(0, query);
  const search = query < 0 ? '' : target.slice(query + 1);
  if (target.includes('#')) return 'request_target_fragment';
  if (!PATH_CHARS.test(path)) return path.includes('\\') ? 'request_target_backslash' : 'request_target_character';
  if (!QUERY_CHARS.test(search)) return 'request_target_character';
  if (BAD_PERCENT.test(target)) return 'request_target_percent_encoding';
  return undefined;
}

const RESERVED = '/.gatehouse';

/**
 * Whether a path lies under `/.gatehouse/`, Gatehouse's own namespace on
 * every published host, in any spelling a backend might resolve to it
 * (case, `%2e`, dot segments, doubled slashes). Such paths are answered by
 * Gatehouse or not at all, never forwarded. An unreadable path counts as
 * reserved.
 */
export function isReservedPath(target: string): boolean {
  const forms = requestPathForms(target);
  if (!forms) return true;
  return forms.some((form) => form === RESERVED || form.startsWith(`${RESERVED}/`));
}

/**
 * The end of step 4, after the endpoints Gatehouse serves under the reserved prefix: anything else there is refused on every
 * published host, before the session gate, in every spelling.
 */
export const reservedPath: Step = ({ context, target }) =>
  context.app && isReservedPath(target) ? { kind: 'error', error: new GatehouseError('ERR_NOT_FOUND', 'reserved_path'), rejectsRequest: true } : CONTINUE;

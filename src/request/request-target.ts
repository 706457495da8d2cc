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
  if (plainlyOutside(target)) return false;
  const forms = requestPathForms(target);
  if (!forms) return true;
  return forms.some((form) => form === RESERVED || form.startsWith(`${RESERVED}/`));
}

/**
 * The common case, decided without building the path's forms: a path without
 * percent-encoding, controls or non-ASCII whose text never says `gatehouse` (in any case)
 * cannot have a form under the reserved prefix, because every form only drops
 * or rearranges its characters (slashes, dot segments, `;params`), never
 * makes letters. Anything else takes the full check.
 */
function plainlyOutside(target: string): boolean {
  let end = target.length;
  for (let index = 0; index < target.length; index += 1) {
    const code = target.charCodeAt(index);
    if (code === 0x3f || code === 0x23) {
      end = index;
      break;
    }
    if (code <= 0x20 || code >= 0x7f || code === 0x25) return false;
  }
  if (end === 0 || target.charCodeAt(0) !== 0x2f) return false;
  return !GATEHOUSE_WORD.test(end === target.length ? target : target.slice(0, end));
}

const GATEHOUSE_WORD = /gatehouse/i;

/**
 * The end of step 4, after the endpoints Gatehouse serves under the reserved prefix: anything else there is refused on every
 * published host, before the session gate, in every spelling.
 */
export const reservedPath: Step = ({ context, target }) =>
  context.app && isReservedPath(target) ? { kind: 'error', error: new GatehouseError('ERR_NOT_FOUND', 'reserved_path'), rejectsRequest: true } : CONTINUE;

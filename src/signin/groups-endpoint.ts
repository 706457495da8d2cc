import type { GroupsEndpointConfig } from '../config/groups-schema.ts';
import { GatehouseError } from '../errors/index.ts';
import { GROUPS_ENDPOINT_MAX_GROUPS, GROUPS_ENDPOINT_MAX_PAGE_BYTES } from '../limits.ts';

export interface GroupsEndpointOptions {
  readonly settings: GroupsEndpointConfig;
  readonly timeoutSeconds: number;
  /** The identity provider's HTTP client (its CA bundle, its dispatcher). */
  readonly fetch: (url: string, init: RequestInit) => Promise<Response>;
}

/**
 * Asks the groups endpoint for a user's groups with the user's access token, in Microsoft Graph's shape: pages of
 * `{ value: [{ id }], '@odata.nextLink' }`, followed to the end. Never a partial answer: a page that fails, times
 * out, is not that shape, or goes past the page or group cap throws ERR_GROUPS_OVERAGE whose reason says which
 * (`groups_endpoint_failed:<why>`). Next links are followed on the configured origin only, since each one is sent
 * the user's token.
 */
export async function fetchEndpointGroups(accessToken: string | undefined, options: GroupsEndpointOptions): Promise<string[]> {
  if (accessToken === undefined || accessToken.length === 0) throw failed('no_access_token');
  const origin = new URL(options.settings.url).origin;
  const groups = new Set<string>();
  let next: string | undefined = options.settings.url;
  for (let page = 0; next !== undefined; page++) {
    if (page >= options.settings.maxPages) throw failed('too_many_pages');
    if (!URL.canParse(next) || new URL(next).origin !== origin) throw failed('next_link_other_origin');
    const body = await fetchPage(next, accessToken, options);
    for (const id of body.ids) groups.add(id);
    if (groups.size > GROUPS_ENDPOINT_MAX_GROUPS) throw failed('too_many_groups');
    next = body.next;
  }
  return [...groups];
}

async function fetchPage(url: string, accessToken: string, options: GroupsEndpointOptions): Promise<{ ids: string[]; next: string | undefined }> {
  const signal = AbortSignal.timeout(options.timeoutSeconds * 1000);
  let text: string;
  try {
    const response = await options.fetch(url, {
      headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' },
      redirect: 'error',
      signal,
    });
    if (response.status < 200 || response.status > 299) {
      await response.body?.cancel().catch(() => undefined);
      throw failed(`status_${response.status}`);
    }
    text = await readCapped(response);
  } catch (error) {
    if (error instanceof GatehouseError) throw error;
    throw failed(signal.aborted ? 'timeout' : 'unreachable', error);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw failed('bad_json', error);
  }
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray((parsed as { value?: unknown }).value)) throw failed('bad_response');
  const { value, '@odata.nextLink': nextLink } = parsed as { value: unknown[]; '@odata.nextLink'?: unknown };
  if (nextLink !== undefined && typeof nextLink !== 'string') throw failed('bad_response');
  const ids: string[] = [];
  for (const entry of value) {
    const id = typeof entry === 'object' && entry !== null ? (entry as { id?: unknown }).id : undefined;
    // An entry without an id would be a group nobody can name: the list would not be the user's whole list.
    if (typeof id !== 'string' || id.length === 0 || id.length > 256) throw failed('bad_response');
    ids.push(id);
  }
  return { ids, next: nextLink };
}

async function readCapped(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > GROUPS_ENDPOINT_MAX_PAGE_BYTES) {
      await reader.cancel().catch(() => undefined);
      throw failed('page_too_large');
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function failed(why: string, cause?: unknown): GatehouseError {
  return new GatehouseError('ERR_GROUPS_OVERAGE', `groups_endpoint_failed:${why}`, cause === undefined ? undefined : { cause });
}

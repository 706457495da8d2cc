import assert from 'node:assert/strict';
import { GatehouseError } from '../../../src/errors/index.ts';
import { GROUPS_ENDPOINT_MAX_GROUPS, GROUPS_ENDPOINT_MAX_PAGE_BYTES } from '../../../src/limits.ts';
import { fetchEndpointGroups } from '../../../src/signin/groups-endpoint.ts';

const URL_ = 'https://graph.example.com/v1.0/me/transitiveMemberOf?$select=id';

type Page = { status?: number; body: string };

/** A fetch answering from pages by URL, recording what it was asked. */
function fakeFetch(pages: Record<string, Page>) {
  const asked: { url: string; authorization: string | null }[] = [];
  const fetch = (url: string, init: RequestInit): Promise<Response> => {
    asked.push({ url, authorization: new Headers(init.headers).get('authorization') });
    const page = pages[url];
    return Promise.resolve(page ? new Response(page.body, { status: page.status ?? 200 }) : new Response('', { status: 404 }));
  };
  return { fetch, asked };
}

const page = (ids: string[], next?: string): Page => ({
  body: JSON.stringify({ value: ids.map((id) => ({ id })), ...(next ? { '@odata.nextLink': next } : {}) }),
});

async function reason(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof GatehouseError);
    assert.equal(error.code, 'ERR_GROUPS_OVERAGE');
    return error.reason;
  }
  assert.fail('expected a refusal');
}

describe('groups endpoint (Graph-shaped)', () => {
  const settings = { url: URL_, maxPages: 3 };

  it('follows next links, sends the access token to each page, and lists each group once', async () => {
    const next = `${URL_}&$skiptoken=2`;
    const { fetch, asked } = fakeFetch({ [URL_]: page(['a', 'b'], next), [next]: page(['b', 'c']) });
    assert.deepEqual(await fetchEndpointGroups('token-1', { settings, timeoutSeconds: 5, fetch }), ['a', 'b', 'c']);
    assert.deepEqual(
      asked.map((entry) => entry.authorization),
      ['Bearer token-1', 'Bearer token-1'],
    );
  });

  it('refuses with a reason that says which failure, never a partial list', async () => {
    const cases: [string, Record<string, Page>, string | undefined][] = [
      ['no_access_token', { [URL_]: page(['a']) }, undefined],
      ['status_403', { [URL_]: { status: 403, body: '{}' } }, 'token'],
      ['bad_json', { [URL_]: { body: '<html>' } }, 'token'],
      ['bad_response', { [URL_]: { body: '{"groups":[]}' } }, 'token'],
      ['bad_response', { [URL_]: { body: '{"value":[{"displayName":"no id"}]}' } }, 'token'],
      ['next_link_other_origin', { [URL_]: page(['a'], 'https://evil.example/steal') }, 'token'],
      ['too_many_pages', { [URL_]: page(['a'], URL_) }, 'token'],
      ['page_too_large', { [URL_]: { body: `{"value":[],"pad":"${'x'.repeat(GROUPS_ENDPOINT_MAX_PAGE_BYTES)}"}` } }, 'token'],
      ['too_many_groups', { [URL_]: page(Array.from({ length: GROUPS_ENDPOINT_MAX_GROUPS + 1 }, (_, index) => `g${index}`)) }, 'token'],
    ];
    for (const [why, pages, token] of cases) {
      const { fetch, asked } = fakeFetch(pages);
      assert.equal(await reason(fetchEndpointGroups(token, { settings, timeoutSeconds: 5, fetch })), `groups_endpoint_failed:${why}`, why);
      if (why === 'next_link_other_origin')
        assert.ok(!asked.some((entry) => entry.url.startsWith('https://evil.example')), 'the token never leaves the origin');
    }
  });

  it('calls an unreachable endpoint unreachable', async () => {
    const fetch = (): Promise<Response> => Promise.reject(new TypeError('fetch failed'));
    assert.equal(await reason(fetchEndpointGroups('token', { settings, timeoutSeconds: 5, fetch })), 'groups_endpoint_failed:unreachable');
  });
});

import assert from 'node:assert/strict';
import { GatehouseError } from '../../../src/errors/index.ts';
import { ADMIN_INTROSPECTION_CACHE_MS } from '../../../src/limits.ts';
import { TokenIntrospection } from '../../../src/connector-plane/token-introspection.ts';

function setup(answer: (token: string) => Record<string, unknown>, withSecret = true) {
  const calls: Array<{ url: string; init: RequestInit }> = [];
  let now = 1_700_000_000_000;
  const introspection = new TokenIntrospection({
    endpoint: () => Promise.resolve(new URL('https://idp.example/introspect')),
    clientId: 'gatehouse gateway',
    clientSecret: withSecret ? 'the secret' : undefined,
    clock: () => now,
    timeoutMs: 1000,
    fetch: (url, init) => {
      calls.push({ url, init });
      const token = new URLSearchParams(init.body as string).get('token') ?? '';
      return Promise.resolve(new Response(JSON.stringify(answer(token)), { headers: { 'content-type': 'application/json' } }));
    },
  });
  return { introspection, calls, advance: (ms: number) => (now += ms), now: () => now };
}

describe('admin token introspection (RFC 7662)', function () {
  it('authenticates as the gateway (client_secret_basic, form-encoded), and caches an answer briefly', async function () {
    const { introspection, calls, advance } = setup(() => ({ active: true, sub: 'user-alice', roles: ['admin'] }));
    assert.equal((await introspection.claims('opaque-1'))['sub'], 'user-alice');
    await introspection.claims('opaque-1');
    assert.equal(calls.length, 1, 'the second use within the cache time is not asked again');
    const headers = new Headers(calls[0]?.init.headers);
    assert.equal(headers.get('authorization'), `Basic ${Buffer.from('gatehouse+gateway:the+secret').toString('base64')}`);
    assert.equal(new URLSearchParams(calls[0]?.init.body as string).get('token_type_hint'), 'access_token');
    advance(ADMIN_INTROSPECTION_CACHE_MS + 1);
    await introspection.claims('opaque-1');
    assert.equal(calls.length, 2, 'asked again once the cache time is over');
  });

  it('refuses anything but active: true (inactive), and never caches past the token expiry', async function () {
    const { introspection, calls, now } = setup((token) =>
      token === 'short' ? { active: true, sub: 'a', exp: Math.floor(now() / 1000) - 1 } : { active: token === 'yes' ? 'true' : false },
    );
    for (const token of ['no', 'yes']) {
      await assert.rejects(introspection.claims(token), (error: unknown) => error instanceof GatehouseError && error.reason === 'inactive');
    }
    await introspection.claims('short');
    await introspection.claims('short');
    assert.equal(calls.length, 4, 'an expired token is not answered from the cache');
  });

  it('needs the gateway client secret', async function () {
    const { introspection } = setup(() => ({ active: true }), false);
    await assert.rejects(introspection.claims('x'), (error: unknown) => error instanceof GatehouseError && error.code === 'ERR_IDP_UNAVAILABLE');
  });
});

import assert from 'node:assert/strict';
import { SESSION_TOUCH_INTERVAL_SECONDS } from '../../src/limits.ts';
import { signIn, startStack, type Stack } from '../support/stack.ts';

/**
 * A stale (but still valid) session cookie is re-sealed with a fresh
 * last-seen time. Replayed on every request, it must not mint a new valid
 * cookie per request: each would be one more credential in circulation and
 * one more entry in the gateway's unseal cache.
 */
describe('attack: minting session cookies by replaying a stale one', function () {
  this.timeout(60_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack.close();
  });
  beforeEach(() => {
    stack.audit.clear();
    stack.clock.reset();
  });

  it('re-seals one stale cookie sent 100 times at most once per touch interval', async () => {
    const victim = stack.browser();
    await signIn(stack, victim, 'bob', '/docs');
    const stale = (await victim.jar.getCookies(`${stack.urls.wiki}/`)).find((cookie) => cookie.key === '__Host-gatehouse');
    assert.ok(stale);
    const replayer = stack.browser();
    const fresh = new Set<string>();
    const replay = async (): Promise<void> => {
      for (let index = 0; index < 100; index += 1) {
        const response = await replayer.request(`${stack.urls.wiki}/api/${index}`, {
          headers: { accept: 'application/json', cookie: `__Host-gatehouse=${stale.value}` },
        });
        assert.equal(response.status, 200);
        for (const line of response.setCookies) if (line.startsWith('__Host-gatehouse=')) fresh.add(line.split(';')[0]!);
      }
    };

    stack.clock.advance((SESSION_TOUCH_INTERVAL_SECONDS + 5) * 1000);
    await replay();
    assert.equal(fresh.size, 1, `${fresh.size} fresh cookies in one interval`);

    stack.clock.advance(SESSION_TOUCH_INTERVAL_SECONDS * 1000);
    await replay();
    assert.equal(fresh.size, 2, `${fresh.size} fresh cookies in two intervals`);
    assert.equal(stack.audit.ofType('session.rejected').length, 0);
  });

  it('keeps refreshing an active browser that takes its new cookies (control)', async () => {
    const browser = stack.browser();
    await signIn(stack, browser, 'bob', '/docs');
    const before = (await browser.jar.getCookies(`${stack.urls.wiki}/`)).find((cookie) => cookie.key === '__Host-gatehouse')?.value;
    stack.clock.advance((SESSION_TOUCH_INTERVAL_SECONDS + 5) * 1000);
    const response = await browser.request(`${stack.urls.wiki}/later`, { headers: { accept: 'application/json' } });
    assert.equal(response.status, 200);
    const after = (await browser.jar.getCookies(`${stack.urls.wiki}/`)).find((cookie) => cookie.key === '__Host-gatehouse')?.value;
    assert.ok(after && after !== before, 'the cookie was re-sealed');
  });
});

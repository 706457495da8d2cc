import assert from 'node:assert/strict';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeProtectedHeader, type JSONWebKeySet } from 'jose';
import { createApp } from '../../examples/verify-assertion/backend.ts';
import { createCaFetch } from '../../dev/lib/browser-client.ts';
import { signIn, startStack, type Stack } from '../support/stack.ts';

const ROTATION_MS = 60 * 60_000;
const LIFETIME_MS = 5 * 60_000;
// What the gateway adds to one lifetime before a retired key leaves the JWKS (clock differences).
const RETIRE_MARGIN_MS = 60_000;

/**
 * The gateway's generated signing keys rotate while a backend that follows
 * examples/verify-assertion keeps verifying: the gateway's clock is moved past
 * the rotation, the backend's stays real, so assertions signed before it are
 * still within their lifetime.
 */
describe('identity assertion keys: a rotation seen by a verifying backend', function () {
  this.timeout(60_000);
  let stack: Stack;
  let backend: Server;
  let backendUrl: string;
  let keysFetch: ReturnType<typeof createCaFetch>;
  let jwksFetches = 0;
  let handler: RequestListener = (_req, res) => res.writeHead(503).end();
  let lastAssertion = '';

  before(async () => {
    backend = createServer((req, res) => {
      const assertion = req.headers['x-gatehouse-assertion'];
      if (typeof assertion === 'string') lastAssertion = assertion;
      handler(req, res);
    });
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
    stack = await startStack({
      // The gateway's clock moves past a rotation; the session (bounded by the ID token) must outlive that.
      idTokenTtlSeconds: 4 * 3600,
      configure: (config) => ({
        ...config,
        identityAssertion: { lifetime: '5m', rotation: '1h' },
        session: { ...config.session, idleTimeout: '4h' },
        apps: (config.apps ?? []).map((app) => (app.id === 'wiki' ? { ...app, internalUrl: backendUrl } : app)),
      }),
    });
    keysFetch = createCaFetch({ ca: stack.ca.certPem });
  });
  after(async () => {
    await stack.close();
    await keysFetch.close();
    await new Promise<void>((resolve) => {
      backend.close(() => resolve());
      backend.closeAllConnections();
    });
  });

  /**
   * A backend as in the example, with its own JWKS cache; counts its key fetches.
   * `aheadSeconds`: how far the gateway's moved clock runs ahead of the backend's
   * real one, tolerated so that an assertion signed after the move is judged on its key.
   */
  const verifyingBackend = (aheadSeconds = 0): RequestListener =>
    createApp({
      jwksUrl: `${stack.urls.wiki}/.gatehouse/jwks.json`,
      audience: stack.urls.wiki,
      ...(aheadSeconds > 0 ? { clockToleranceSeconds: aheadSeconds + 5 } : {}),
      fetch: (url, init) => {
        jwksFetches += 1;
        return keysFetch.fetch(url, init);
      },
    });
  const publishedKids = async (): Promise<string[]> => {
    const jwks = (await (await keysFetch.fetch(`${stack.urls.wiki}/.gatehouse/jwks.json`)).json()) as JSONWebKeySet;
    return jwks.keys.map((key) => String(key.kid));
  };
  /** The JWKS once the instance has read (and rotated) the ring again: its reload runs behind the request that found it due. */
  const kidsOnceSettled = async (expected: number): Promise<string[]> => {
    for (let attempt = 0; attempt < 50; attempt += 1) {
      const kids = await publishedKids();
      if (kids.length === expected) return kids;
      await sleep(100);
    }
    return publishedKids();
  };
  const kidOf = (token: string): string => String(decodeProtectedHeader(token).kid);
  const direct = async (assertion: string): Promise<{ status: number; body: { user?: { sub: string } } }> => {
    const response = await fetch(`${backendUrl}/whoami`, { headers: { 'x-gatehouse-assertion': assertion } });
    return { status: response.status, body: (await response.json()) as { user?: { sub: string } } };
  };

  it('signs with next after the rotation without the backend refetching; the old assertion verifies against the JWKS served after it', async () => {
    handler = verifyingBackend((ROTATION_MS + 1_000) / 1000);
    const [current, next] = await publishedKids();
    assert.ok(current && next);

    const browser = stack.browser();
    const { response } = await signIn(stack, browser, 'bob', '/whoami');
    assert.equal(response.status, 200);
    const signedBefore = lastAssertion;
    assert.equal(kidOf(signedBefore), current);
    assert.equal(jwksFetches, 1);

    stack.clock.advance(ROTATION_MS + 1_000);
    const afterRotation = await browser.request(`${stack.urls.wiki}/whoami`);
    assert.equal(afterRotation.status, 200, await afterRotation.text());
    assert.equal(kidOf(lastAssertion), next, 'next signs once its time has come');
    // The backend's cached JWKS already held that key: verifiers need no refetch at a rotation.
    assert.equal(jwksFetches, 1);

    const [retired, nowCurrent, newNext, ...more] = await kidsOnceSettled(3);
    assert.deepEqual([retired, nowCurrent, more], [current, next, []]);
    assert.ok(newNext && newNext !== current && newNext !== next, 'a new next is published at once');

    // A backend that first fetches the keys now, after the rotation, still accepts what the retired key signed.
    handler = verifyingBackend();
    const verified = await direct(signedBefore);
    assert.equal(verified.status, 200);
    assert.equal(verified.body.user?.sub, 'user-bob');

    // One lifetime (and the margin) after it stopped signing, the retired key leaves the JWKS.
    stack.clock.advance(LIFETIME_MS + RETIRE_MARGIN_MS);
    assert.deepEqual(await publishedKids(), [next, newNext]);
  });
});

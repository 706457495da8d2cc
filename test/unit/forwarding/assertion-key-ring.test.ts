import assert from 'node:assert/strict';
import * as jose from 'jose';
import { parseGatewayConfig } from '../../../src/config/parse.ts';
import { AssertionKeyRing, RING_STORE_KEY } from '../../../src/forwarding/assertion-key-ring.ts';
import { IdentityAssertions } from '../../../src/forwarding/identity-assertion.ts';
import type { Identity } from '../../../src/session/identity.ts';
import { MemoryStore } from '../../../src/store/memory-store.ts';

const ROTATION = 1_000;
const LIFETIME = 60;
const RETENTION = LIFETIME + 60;
const START = 1_800_000_000;

/** A clock in whole seconds that the test moves. */
function testClock(): { clock: () => number; at: (seconds: number) => void } {
  let now = START * 1000;
  return { clock: () => now, at: (seconds) => (now = seconds * 1000) };
}

const kids = async (ring: AssertionKeyRing | IdentityAssertions): Promise<string[]> => (await ring.jwks()).keys.map((key) => String(key.kid));

describe('forwarding: the identity assertion key ring', () => {
  it('publishes current and next from the first start, and signs with current', async () => {
    const { clock } = testClock();
    const ring = new AssertionKeyRing({ store: new MemoryStore(), clock, rotation: ROTATION, retention: RETENTION });
    const [current, next] = await kids(ring);
    assert.equal((await ring.jwks()).keys.length, 2);
    assert.notEqual(current, next);
    assert.equal((await ring.signingKey()).kid, current);
    for (const key of (await ring.jwks()).keys) assert.equal(key.d, undefined, 'no private part in the JWKS');
  });

  it('rotation makes next current and a new next, and the retired key stays published for one assertion lifetime', async () => {
    const { clock, at } = testClock();
    const store = new MemoryStore();
    const ring = new AssertionKeyRing({ store, clock, rotation: ROTATION, retention: RETENTION });
    const [current, next] = await kids(ring);

    at(START + ROTATION);
    // next signs from its time on, before any store round trip.
    assert.equal((await ring.signingKey()).kid, next);
    await ring.reload();
    const after = await kids(ring);
    assert.deepEqual(after.slice(0, 2), [current, next]);
    assert.equal(after.length, 3);
    assert.ok(!after.slice(0, 2).includes(String(after[2])), 'a new next');
    assert.equal((await ring.signingKey()).kid, next);

    at(START + ROTATION + LIFETIME);
    assert.ok((await kids(ring)).includes(String(current)), 'still published one lifetime after rotation');
    at(START + ROTATION + RETENTION);
    assert.deepEqual(await kids(ring), after.slice(1));
  });

  it('two instances on one store rotating at once end with one ring, written once', async () => {
    const { clock, at } = testClock();
    const store = new MemoryStore();
    const a = new AssertionKeyRing({ store, clock, rotation: ROTATION, retention: RETENTION });
    const b = new AssertionKeyRing({ store, clock, rotation: ROTATION, retention: RETENTION });
    await Promise.all([a.ready(), b.ready()]);
    assert.deepEqual(await kids(a), await kids(b));

    let writes = 0;
    const compareAndSet = store.compareAndSet.bind(store);
    store.compareAndSet = async (key, expected, value) => {
      const wrote = await compareAndSet(key, expected, value);
      if (wrote && key === RING_STORE_KEY) writes += 1;
      return wrote;
    };
    at(START + ROTATION + 1);
    await Promise.all([a.reload(), b.reload()]);
    assert.equal(writes, 1);
    assert.deepEqual(await kids(a), await kids(b));
    assert.equal((await a.signingKey()).kid, (await b.signingKey()).kid);
  });

  it('an instance sees a ring another instance rotated once its reload interval has passed', async () => {
    const { clock, at } = testClock();
    const store = new MemoryStore();
    const a = new AssertionKeyRing({ store, clock, rotation: ROTATION, retention: RETENTION, reloadMs: 60_000 });
    const b = new AssertionKeyRing({ store, clock, rotation: ROTATION * 10, retention: RETENTION, reloadMs: 60_000 });
    await Promise.all([a.ready(), b.ready()]);
    at(START + ROTATION);
    await a.reload();
    at(START + ROTATION + 59);
    assert.equal((await kids(b)).length, 2, 'not read again before the interval');
    at(START + ROTATION + 61);
    await kids(b); // starts the reload
    await b.reload();
    assert.deepEqual(await kids(b), await kids(a));
  });

  it('keeps the one key an earlier version generated as the first current key', async () => {
    const store = new MemoryStore();
    const legacy = await jose.exportJWK((await jose.generateKeyPair('ES256', { extractable: true })).privateKey);
    await store.put('identity-assertion-key', JSON.stringify(legacy));
    const ring = new AssertionKeyRing({ store, clock: testClock().clock, rotation: ROTATION, retention: RETENTION });
    assert.equal((await ring.signingKey()).kid, await jose.calculateJwkThumbprint({ kty: legacy.kty, crv: legacy.crv, x: legacy.x, y: legacy.y }));
    assert.equal(await store.get('identity-assertion-key'), undefined);
  });
});

describe('forwarding: identity assertions across a rotation', () => {
  const config = parseGatewayConfig({
    identityProvider: { issuer: 'https://login.example.com', clientId: 'gatehouse', clientSecret: 's3cret' },
    session: { secrets: [{ id: 1, secret: 'a-very-long-session-secret-of-at-least-32-chars' }] },
    apps: [{ id: 'wiki', externalUrl: 'https://wiki.example.com', internalUrl: 'http://10.0.0.5:8080' }],
  });
  const app = config.apps[0];
  const identity = (sessionId: string): Identity => ({
    sub: 'alice',
    emailVerified: true,
    groups: ['staff'],
    amr: ['pwd'],
    authTime: START,
    sessionId,
    sessionExpiresAt: START + 86_400,
    app: 'wiki',
    claims: {},
  });

  it('an assertion signed before the rotation verifies against the JWKS served after it', async () => {
    assert.ok(app);
    const { clock, at } = testClock();
    const store = new MemoryStore();
    const before = new IdentityAssertions({ issuer: 'urn:gatehouse', lifetime: LIFETIME, rotation: ROTATION, store: () => Promise.resolve(store), clock });
    await before.ready();
    at(START + ROTATION - 10);
    const signedBefore = await before.assertionFor(identity('s1'), app);

    at(START + ROTATION + 20);
    // Another instance, started after the rotation, serves the JWKS.
    const after = new IdentityAssertions({ issuer: 'urn:gatehouse', lifetime: LIFETIME, rotation: ROTATION, store: () => Promise.resolve(store), clock });
    const jwks = jose.createLocalJWKSet(await after.jwks());
    const options = { issuer: 'urn:gatehouse', audience: 'https://wiki.example.com', currentDate: new Date(clock()) };
    const verified = await jose.jwtVerify(signedBefore, jwks, options);
    assert.equal(verified.payload.sub, 'alice');

    const signedAfter = await after.assertionFor(identity('s2'), app);
    assert.notEqual(jose.decodeProtectedHeader(signedAfter).kid, jose.decodeProtectedHeader(signedBefore).kid);
    await jose.jwtVerify(signedAfter, jwks, options);
  });
});

describe('forwarding: the identityAssertion.rotation setting', () => {
  const configWith = (identityAssertion: Record<string, string>): unknown => ({
    identityProvider: { issuer: 'https://login.example.com', clientId: 'gatehouse', clientSecret: 's3cret' },
    session: { secrets: [{ id: 1, secret: 'a-very-long-session-secret-of-at-least-32-chars' }] },
    apps: [{ id: 'wiki', externalUrl: 'https://wiki.example.com', internalUrl: 'http://10.0.0.5:8080' }],
    identityAssertion,
  });

  it('defaults to 30 days', () => {
    assert.equal(parseGatewayConfig(configWith({})).identityAssertion.rotation, 30 * 86_400);
  });

  it('refuses a period too short for verifiers to learn next before it signs, or shorter than one assertion lifetime', () => {
    assert.throws(() => parseGatewayConfig(configWith({ rotation: '10m' })), /identityAssertion\.rotation: must be at least 3600s/);
    // The ring keeps one retired key: it must outlive every assertion it signed before the next rotation.
    assert.throws(() => parseGatewayConfig(configWith({ lifetime: '2h', rotation: '2h' })), /identityAssertion\.rotation: must be at least 7261s/);
    assert.equal(parseGatewayConfig(configWith({ rotation: '1h' })).identityAssertion.rotation, 3600);
  });
});

describe('forwarding: identity assertions on a store that did not answer at first', () => {
  it('asks the store again on the next call instead of failing until a restart', async () => {
    const store = new MemoryStore();
    let down = true;
    const flaky = new Proxy(store, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => (down ? Promise.reject(new Error('store down')) : (value as (...a: unknown[]) => unknown).apply(target, args));
      },
    });
    const { clock } = testClock();
    const assertions = new IdentityAssertions({ issuer: 'urn:gatehouse', lifetime: LIFETIME, rotation: ROTATION, store: () => Promise.resolve(flaky), clock });
    await assert.rejects(assertions.jwks(), /store down/);
    down = false;
    assert.equal((await assertions.jwks()).keys.length, 2);
    assert.ok(await store.get(RING_STORE_KEY), 'the ring is in the store once it answered');
  });
});

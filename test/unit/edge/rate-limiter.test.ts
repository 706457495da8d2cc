import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { AuditLog, memorySink } from '../../../src/audit/audit-log.ts';
import { parseGatewayConfig } from '../../../src/config/parse.ts';
import { rateLimitSchema } from '../../../src/config/rate-limit-schema.ts';
import type { GatewayConfigInput } from '../../../src/config/schema.ts';
import type { SharedBuckets, SharedCharge } from '../../../src/edge/rate-limit-redis.ts';
import { RateLimitTable } from '../../../src/edge/rate-limit-table.ts';
import { RateLimiter } from '../../../src/edge/rate-limiter.ts';
import { reloadableChanges, restartOnlyChanges } from '../../../src/gateway/config-diff.ts';

const LIMIT = { perSecond: 10, burst: 5 };

describe('rate limits: token buckets', function () {
  it('lets a burst through, then one request per 1/perSecond, and says how long to wait', function () {
    const table = new RateLimitTable();
    let now = 1_000_000;
    const taken = Array.from({ length: 8 }, () => table.take('anonymous:203.0.113.9', LIMIT, now, 100));
    assert.deepEqual(taken, [0, 0, 0, 0, 0, 1, 1, 1]);
    now += 100;
    assert.equal(table.take('anonymous:203.0.113.9', LIMIT, now, 100), 0, 'one token after 100 ms at 10/s');
    assert.equal(table.take('anonymous:203.0.113.9', LIMIT, now, 100), 1);
    assert.equal(table.take('anonymous:198.51.100.1', LIMIT, now, 100), 0, 'another address has its own bucket');
  });

  it('a clock that goes back refills nothing', function () {
    const table = new RateLimitTable();
    for (let index = 0; index < 5; index += 1) table.take('k', LIMIT, 10_000, 100);
    assert.equal(table.take('k', LIMIT, 5_000, 100), 1);
    assert.equal(table.take('k', LIMIT, 5_050, 100), 1, 'half a token since the clock went back');
  });

  it('keeps at most maxBuckets, evicting a full bucket before a busy one, and counts evictions', function () {
    const table = new RateLimitTable();
    const now = 1_000;
    for (let index = 0; index < 5; index += 1) table.take('busy', LIMIT, now, 3);
    table.take('idle-1', { perSecond: 1000, burst: 5 }, now, 3);
    table.take('idle-2', LIMIT, now, 3);
    // A second later idle-1 is full again (and idle-2 too); busy is still owed nothing but is the oldest.
    table.take('new', LIMIT, now + 10, 3);
    assert.equal(table.size, 3);
    assert.equal(table.evictions, 1);
    assert.ok(table.get('busy'), 'the empty bucket stays: forgetting it would let its source burst again');
    assert.equal(table.get('idle-1'), undefined, 'the bucket already full again went');
    for (let index = 0; index < 1000; index += 1) table.take(`spray-${index}`, LIMIT, now + 20, 3);
    assert.equal(table.size, 3, 'a spray of new addresses never grows the table');
    assert.equal(table.evictions, 1001);
  });

  it('takes the shared bucket’s word, owed tokens included', function () {
    const table = new RateLimitTable();
    for (let index = 0; index < 2; index += 1) table.take('k', LIMIT, 0, 10);
    const bucket = table.get('k')!;
    bucket.pending = 1; // let through here since the shared bucket answered
    RateLimitTable.adopt(bucket, LIMIT, -4, 0, 0);
    assert.equal(bucket.tokens, -5, 'the other instances let 7 through: this one now waits for 6 tokens');
    assert.equal(table.take('k', LIMIT, 500, 10), 1, 'still owed after 500 ms');
    assert.equal(table.take('k', LIMIT, 600, 10), 0, 'a token after 600 ms at 10/s');
  });
});

describe('rate limits: the limiter', function () {
  const settings = rateLimitSchema.parse({ anonymous: LIMIT, signin: { perSecond: 1, burst: 2 } });

  it('counts and audits refusals; the audit log aggregates them per address', async function () {
    const sink = memorySink();
    const audit = new AuditLog([sink], { clock: () => 0 });
    const registry = new Registry();
    const limiter = new RateLimiter({ clock: () => 0, audit, registry });
    let refused = 0;
    for (let index = 0; index < 1000; index += 1) if (limiter.check('signin', settings, { clientIp: '203.0.113.9', app: 'wiki' }) > 0) refused += 1;
    assert.equal(refused, 998);
    const metrics = await registry.getMetricsAsJSON();
    const counted = metrics.find((metric) => metric.name === 'gatehouse_rate_limited_total');
    assert.deepEqual(counted?.values, [{ labels: { limit: 'signin' }, value: 998 }]);
    const written = sink.events.filter((event) => event.type === 'request.rate_limited');
    assert.ok(written.length <= 20, `at most a window's repeats written, got ${written.length}`);
    assert.equal(written[0]?.code, 'ERR_RATE_LIMITED');
    assert.equal(written[0]?.reason, 'signin');
    await audit.close();
    const summary = sink.events.find((event) => event.type === 'audit.suppressed');
    assert.equal(summary?.details?.['suppressed'], 998 - written.length);
    limiter.close();
  });

  it('counts an IPv6 /64 as one source and a disabled limit not at all', function () {
    const limiter = new RateLimiter({ clock: () => 0, audit: new AuditLog([], { clock: () => 0 }) });
    const refusals = Array.from({ length: 10 }, (_, index) => limiter.check('anonymous', settings, { clientIp: `2001:db8:1:2::${index + 1}` }));
    assert.deepEqual(refusals, [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
    const off = rateLimitSchema.parse({ anonymous: false });
    assert.ok(Array.from({ length: 1000 }, () => limiter.check('anonymous', off, { clientIp: '192.0.2.1' })).every((wait) => wait === 0));
    limiter.close();
  });

  it('tells the shared buckets what it let through, once per sync, and adopts their answer', async function () {
    const calls: SharedCharge[][] = [];
    const shared: SharedBuckets = {
      charge: (charges) => {
        calls.push([...charges]);
        return Promise.resolve(charges.map(() => -20)); // the other instances used it up, and more
      },
    };
    const limiter = new RateLimiter({ clock: () => 0, audit: new AuditLog([], { clock: () => 0 }), shared, syncIntervalMs: 5 });
    assert.equal(limiter.check('anonymous', settings, { clientIp: '192.0.2.7' }), 0);
    assert.equal(limiter.check('anonymous', settings, { clientIp: '192.0.2.7' }), 0);
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(calls.length, 1, 'one sync for both requests');
    assert.deepEqual(
      calls[0]!.map(({ key, count }) => [key, count]),
      [['anonymous:192.0.2.7', 2]],
    );
    assert.ok(limiter.check('anonymous', settings, { clientIp: '192.0.2.7' }) >= 2, 'refused here too, until the debt is repaid');
    limiter.close();
  });
});

describe('rate limits: configuration', function () {
  const base: GatewayConfigInput = {
    identityProvider: { issuer: 'https://login.example.com', clientId: 'gatehouse', clientSecret: 'a-client-secret' },
    session: { secrets: [{ id: 1, secret: 'a-session-secret-of-at-least-32-characters' }] },
    apps: [{ id: 'wiki', externalUrl: 'https://wiki.example.com', internalUrl: 'http://10.0.0.5:8080' }],
  };

  it('has a named default for every limit, takes false to turn one off, and refuses a limit without its burst', function () {
    const config = parseGatewayConfig(base);
    assert.deepEqual(config.limits.rate.signin, { perSecond: 10, burst: 50 });
    assert.equal(parseGatewayConfig({ ...base, limits: { rate: { anonymous: false } } }).limits.rate.anonymous, false);
    assert.throws(
      () => parseGatewayConfig({ ...base, limits: { rate: { signin: { perSecond: 5 } } } }),
      /limits\.rate\.signin: must be \{ perSecond, burst \}/,
    );
    assert.throws(() => parseGatewayConfig({ ...base, limits: { rate: { signin: { perSecond: 0, burst: 5 } } } }), /limits\.rate\.signin\.perSecond/);
  });

  it('is applied by a reload: the buckets stay, the limits change', function () {
    const before = parseGatewayConfig(base);
    const after = parseGatewayConfig({ ...base, limits: { rate: { signin: { perSecond: 1, burst: 5 } } } });
    assert.deepEqual(reloadableChanges(before, after), ['limits.rate']);
    assert.deepEqual(restartOnlyChanges(before, after), []);
  });
});

import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { AuditEvent } from '../../src/audit/events.ts';
import {
  AUDIT_REPEAT_WINDOW_MS,
  AUDIT_REPEATS_PER_WINDOW,
  RATE_CONNECTOR_REGISTER_BURST,
  RATE_SIGNIN_BURST,
  RATE_SIGNIN_PER_SECOND,
} from '../../src/limits.ts';
import { REGISTER_PATH } from '../../src/protocol/connector-api.ts';
import { startConnectorStack, type ConnectorStack } from '../support/connector-stack.ts';
import { flood } from '../support/flood.ts';
import { signIn, type Stack } from '../support/stack.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;
}

/** A signed-in user's requests, one after the other, until `stop` resolves: each status and latency. */
async function steadyUser(stack: Stack, stop: Promise<unknown>): Promise<{ statuses: number[]; latencies: number[] }> {
  const browser = stack.browser();
  await signIn(stack, browser, 'bob');
  const statuses: number[] = [];
  const latencies: number[] = [];
  let done = false;
  void stop.then(() => (done = true));
  while (!done) {
    const at = performance.now();
    const response = await browser.request(`${stack.urls.wiki}/steady`, { headers: { accept: 'application/json' } });
    await response.text();
    latencies.push(performance.now() - at);
    statuses.push(response.status);
  }
  return { statuses, latencies: latencies.sort((a, b) => a - b) };
}

/** What the gateway's process holds after a full collection. */
function memory(): { heap: number; rss: number } {
  gc();
  gc();
  const usage = process.memoryUsage();
  return { heap: usage.heapUsed, rss: usage.rss };
}

function eventsSince(stack: Stack, since: number): AuditEvent[] {
  return stack.audit.events.filter((event) => Date.parse(event.time) >= since);
}

/**
 * The flood guard passes AUDIT_REPEATS_PER_WINDOW events of one key per window of the
 * audit clock, a window opening at the key's first event: a flood that lasts longer on a
 * busy machine spans more windows, and may write that many per window it spans.
 */
function windowsSpanned(from: number, to: number): number {
  return Math.floor((to - from) / AUDIT_REPEAT_WINDOW_MS) + 1;
}

function aggregatedBound(from: number, to: number): number {
  return AUDIT_REPEATS_PER_WINDOW * windowsSpanned(from, to);
}

function countByType(events: readonly AuditEvent[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const event of events) counts[event.type] = (counts[event.type] ?? 0) + 1;
  return counts;
}

const MiB = 1024 * 1024;
const FLOOD = 10_000;
const LOOPS = 8;
/** The signed-in user's bound while the flood runs, on two shared cores with the flood's own clients in the same process. */
const USER_P99_MS = 250;
/** Long enough for every bucket to be full again (the slowest, registration, refills its 20 in 20 s), well within the ID tokens' lifetime. */
const REFILL_MS = 30_000;

describe('rate limits: anonymous floods', function () {
  this.timeout(180_000);
  let setup: ConnectorStack;
  let stack: Stack;

  before(async () => {
    // The stack's own default turns the limits off (its tests send everything from one address); these are the defaults.
    setup = await startConnectorStack({ tmpPrefix: 'gatehouse-rate-', configure: (config) => ({ ...config, limits: { rate: {} } }) });
    stack = setup.stack;
    await setup.startConnector('connector');
  });
  after(async () => {
    await setup?.stop('SIGTERM');
  });

  it(`${FLOOD} anonymous requests to /.gatehouse/signin are refused fast with 429, aggregated in the audit log, and a signed-in user meanwhile gets every answer`, async function () {
    const host = new URL(stack.urls.wiki).host;
    const target = {
      origin: `https://127.0.0.1:${stack.port}`,
      ca: stack.ca.certPem,
      servername: 'wiki.gatehouse.test',
      host,
      method: 'GET' as const,
      path: '/.gatehouse/signin?rd=/',
    };
    let finished!: () => void;
    const floodDone = new Promise<void>((resolve) => (finished = resolve));
    // Signed in and requesting before the floods start, until the second ends.
    const user = steadyUser(stack, floodDone);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const auditSince = Date.now();
    const clockSince = stack.clock();
    // A first flood as large: the process's first TLS connections and allocator arenas are not what is measured, and
    // the memory after the second is compared with the memory after the first. The buckets are full again after it.
    await flood(target, FLOOD, LOOPS);
    stack.clock.advance(REFILL_MS);
    const before = memory();
    const cpu = process.cpuUsage();
    const result = await flood(target, FLOOD, LOOPS);
    const used = process.cpuUsage(cpu);
    const after = memory();
    finished();
    const { statuses, latencies } = await user;

    const refused = result.statuses.get(429) ?? 0;
    const admitted = result.statuses.get(302) ?? 0;
    const allowed = RATE_SIGNIN_BURST + Math.ceil((RATE_SIGNIN_PER_SECOND * result.elapsedMs) / 1000) + 1;
    const report = {
      elapsedMs: Math.round(result.elapsedMs),
      statuses: Object.fromEntries(result.statuses),
      refusalP50Ms: percentile(result.refusalMs, 50).toFixed(2),
      refusalP99Ms: percentile(result.refusalMs, 99).toFixed(2),
      cpuMicrosPerRequest: Math.round((used.user + used.system) / FLOOD),
      heapGrowthMiB: ((after.heap - before.heap) / MiB).toFixed(1),
      rssGrowthMiB: ((after.rss - before.rss) / MiB).toFixed(1),
      userRequests: statuses.length,
      userP50Ms: percentile(latencies, 50).toFixed(1),
      userP99Ms: percentile(latencies, 99).toFixed(1),
      userMaxMs: latencies.at(-1)?.toFixed(1),
      auditOfBothFloods: countByType(eventsSince(stack, auditSince)),
    };
    console.log(`      signin flood: ${JSON.stringify(report)}`);

    assert.equal(refused + admitted, FLOOD, 'every request answered, 302 to the identity provider or 429');
    assert.ok(admitted <= allowed, `at most burst + rate × time let through: ${admitted} > ${allowed}`);
    assert.ok(refused >= FLOOD * 0.95, 'most are refused');
    assert.ok(
      [...result.retryAfter].every((value) => Number(value) >= 1),
      `Retry-After on every 429: ${[...result.retryAfter].join(',')}`,
    );
    assert.ok(percentile(result.refusalMs, 50) < 20, 'a refusal is answered in milliseconds');
    assert.ok(after.heap - before.heap < 32 * MiB, `heap grew ${report.heapGrowthMiB} MiB`);
    assert.ok(after.rss - before.rss < 64 * MiB, `RSS grew ${report.rssGrowthMiB} MiB`);

    assert.ok(statuses.length > 10, 'the signed-in user kept requesting during the flood');
    assert.deepEqual(new Set(statuses), new Set([200]), 'every request of the signed-in user answered 200');
    assert.ok(percentile(latencies, 99) < USER_P99_MS, `the signed-in user's p99 stays under ${USER_P99_MS} ms: ${report.userP99Ms}`);

    // Both floods are in one window of the flood guard: their refusals are one key, of one address and limit.
    const written = eventsSince(stack, auditSince);
    const limited = written.filter((event) => event.type === 'request.rate_limited');
    const perKey = aggregatedBound(clockSince, stack.clock());
    assert.ok(limited.length >= 1 && limited.length <= perKey, `refusals aggregated: ${limited.length} written for ${refused} and as many before`);
    assert.equal(limited[0]?.code, 'ERR_RATE_LIMITED');
    assert.equal(limited[0]?.reason, 'signin');
    const windows = windowsSpanned(clockSince, stack.clock());
    assert.ok(written.length < 100 * windows, `a handful of audit events for both floods, not one per request: ${written.length} in ${windows} windows`);
  });

  it(`${FLOOD} anonymous registrations on the connector listener are refused with 429 before any token is checked`, async function () {
    const since = Date.now();
    const clockSince = stack.clock();
    const before = memory();
    const result = await flood(
      {
        origin: stack.connectorUrl,
        ca: stack.gateway.connectors!.ca.certPem,
        host: new URL(stack.connectorUrl).host,
        method: 'POST',
        path: REGISTER_PATH,
        headers: { 'content-type': 'application/json' },
        body: '{"csr":"x"}',
      },
      FLOOD,
      LOOPS,
    );
    const after = memory();
    const refused = result.statuses.get(429) ?? 0;
    const checked = result.statuses.get(401) ?? 0;
    const written = eventsSince(stack, since);
    console.log(
      `      register flood: ${JSON.stringify({
        elapsedMs: Math.round(result.elapsedMs),
        statuses: Object.fromEntries(result.statuses),
        refusalP50Ms: percentile(result.refusalMs, 50).toFixed(2),
        heapGrowthMiB: ((after.heap - before.heap) / MiB).toFixed(1),
        audit: countByType(written),
      })}`,
    );
    assert.equal(refused + checked, FLOOD, 'every request answered: 401 (no admin token) or 429');
    assert.ok(
      checked <= RATE_CONNECTOR_REGISTER_BURST + Math.ceil(result.elapsedMs / 1000) + 1,
      `at most burst + rate × time reached the token check: ${checked}`,
    );
    assert.ok(refused >= FLOOD * 0.95);
    assert.ok(after.heap - before.heap < 32 * MiB);
    assert.ok(written.length < 100 * windowsSpanned(clockSince, stack.clock()), `a handful of audit events, not one per request: ${written.length}`);
    const refusals = written.filter((event) => event.type === 'connector.refused').length;
    assert.ok(refusals <= aggregatedBound(clockSince, stack.clock()), `the token refusals are aggregated too: ${refusals}`);
  });

  it('answers a browser with the explained page and an API client with JSON, both with Retry-After', async function () {
    stack.clock.advance(REFILL_MS);
    const browser = stack.browser();
    let page;
    for (let index = 0; index < 200; index += 1) {
      page = await browser.request(`${stack.urls.wiki}/.gatehouse/signin?rd=/`, { navigate: true });
      if (page.status === 429) break;
    }
    assert.equal(page?.status, 429);
    assert.ok(Number(page.headers.get('retry-after')) >= 1);
    const html = await page.text();
    assert.match(html, /Too many requests/);
    assert.match(html, /ERR_RATE_LIMITED/);
    const api = await browser.request(`${stack.urls.wiki}/.gatehouse/callback?state=x&code=y`, { headers: { accept: 'application/json' } });
    if (api.status === 429) {
      const body = (await api.json()) as { error: { code: string; step: string } };
      assert.equal(body.error.code, 'ERR_RATE_LIMITED');
    }
  });

  it('never refuses or charges a request with a valid session, and charges a forged one once the session gate refused it', async function () {
    stack.clock.advance(REFILL_MS);
    const wiki = new URL(stack.urls.wiki).host;
    const target = {
      origin: `https://127.0.0.1:${stack.port}`,
      ca: stack.ca.certPem,
      servername: 'wiki.gatehouse.test',
      host: wiki,
      method: 'GET' as const,
      path: '/x',
    };
    const browser = stack.browser();
    await signIn(stack, browser, 'bob');
    for (let index = 0; index < 300; index += 1) assert.equal((await browser.request(`${stack.urls.wiki}/signed-in-${index}`)).status, 200);
    const bare = await flood(target, 1, 1);
    assert.deepEqual(Object.fromEntries(bare.statuses), { 401: 1 }, 'more signed-in requests than the burst took nothing from the address’s bucket');

    // A forged session cookie: refused (401) by the session gate, then charged as anonymous, until the address is refused.
    const forged = await flood({ ...target, headers: { cookie: '__Host-gatehouse=Fe26.2**forged' } }, 600, 4);
    assert.deepEqual(Object.fromEntries(forged.statuses), { 401: 600 });
    const after = await flood(target, 50, 1);
    assert.ok(
      (after.statuses.get(429) ?? 0) >= 40,
      `the address that sent forged cookies is refused without one: ${JSON.stringify(Object.fromEntries(after.statuses))}`,
    );
    for (let index = 0; index < 50; index += 1)
      assert.equal((await browser.request(`${stack.urls.wiki}/still-${index}`)).status, 200, 'the signed-in user at that address is not slowed');
  });
});

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { adminTokens } from '../../dev/lib/device-approval.ts';
import { ADMIN_CONNECTORS_PATH } from '../../src/protocol/connector-api.ts';
import { callInstanceAsAdmin, startGatewayCluster, type ClusterInstance, type GatewayCluster } from '../support/gateway-cluster.ts';

/**
 * Three `gatehouse serve` processes on one Redis behind a round-robin balancer
 * with no stickiness, two connector processes: what a scaled-out deployment
 * must do, with every part real.
 */
describe('three gateway instances on one Redis, two connectors', function () {
  this.timeout(180_000);
  let cluster: GatewayCluster;
  let a: ClusterInstance;
  let b: ClusterInstance;
  let c: ClusterInstance;

  /** Waits until every instance serves the app through its tunnels (each connector dialled each instance). */
  async function everyInstanceServes(cookie: string, instances: readonly ClusterInstance[], ms = 30_000): Promise<void> {
    const deadline = Date.now() + ms;
    for (const instance of instances) {
      for (;;) {
        const answer = await cluster.requestVia(instance, '/ready-check', cookie).catch(() => ({ status: 0, body: '' }));
        if (answer.status === 200) break;
        if (Date.now() > deadline) assert.fail(`instance ${instance.name} does not serve the app: ${answer.status} ${answer.body}`);
        await delay(200);
      }
    }
  }

  async function signedInCookie(login = 'alice'): Promise<string> {
    const browser = cluster.browser();
    const result = await browser.signIn(`${cluster.wikiUrl}/start`, login, `${login}-password`);
    assert.equal(result.response.status, 200, `sign-in through the balancer: ${await result.response.text()}`);
    return browser.jar.getCookieString(`${cluster.wikiUrl}/`);
  }

  before(async () => {
    cluster = await startGatewayCluster({ instances: 3 });
    [a, b, c] = cluster.instances as [ClusterInstance, ClusterInstance, ClusterInstance];
    await cluster.addConnector();
    await cluster.addConnector();
  });
  after(async () => {
    await cluster?.close();
  });

  /** The instance ids a connector's tunnels are connected to, from its progress lines. */
  function tunnelledInstances(output: string): Set<string> {
    return new Set([...output.matchAll(/tunnel-\d+@(gw-[0-9a-f]+) link connected/g)].map((match) => match[1]!));
  }

  it('every connector holds tunnels to every instance: a session made through the balancer works on each instance', async () => {
    for (const connector of cluster.connectors) {
      const deadline = Date.now() + 20_000;
      // Both tunnels to each of the three instances: each one is counted once its instance accepted it, in any order.
      const bothTo = (id: string): boolean => [1, 2].every((tunnel) => new RegExp(`tunnel-${tunnel}@${id} link connected`).test(connector.process.stderr()));
      while (tunnelledInstances(connector.process.stderr()).size < 3 || ![...tunnelledInstances(connector.process.stderr())].every(bothTo)) {
        if (Date.now() > deadline)
          assert.fail(`connector ${connector.id} does not hold two tunnels to each of three instances:\n${connector.process.stderr()}`);
        await delay(200);
      }
    }
    const cookie = await signedInCookie();
    const instances = [a, b, c];
    await everyInstanceServes(cookie, instances);
    for (const instance of instances) {
      const answer = await cluster.requestVia(instance, `/on-${instance.name}`, cookie);
      assert.equal(answer.status, 200, `${instance.name}: ${answer.body}`);
    }
    const before = new Map(cluster.users.counts);
    for (let index = 0; index < 6; index += 1) assert.equal((await cluster.requestVia('balancer', `/spread-${index}`, cookie)).status, 200);
    const spread = [...cluster.users.counts].map(([port, count]) => count - (before.get(port) ?? 0));
    assert.deepEqual(spread, [2, 2, 2], 'the balancer spread the requests over the three instances, no stickiness');
    // The request path sends nothing to Redis: revocations and server-side data are checked against each instance's own copy.
    const admin = new Redis(cluster.redis.url);
    try {
      const calls = async (): Promise<number> =>
        [...(await admin.info('commandstats')).matchAll(/calls=(\d+)/g)].reduce((sum, match) => sum + Number(match[1]), 0);
      // Background work (heartbeats, leases, syncs) goes on meanwhile, a few commands a second per instance: counted over
      // as long a quiet time right after, and taken out, so that a slow machine (a longer run) does not look like commands
      // per request. Some of it comes every few seconds, so one window can catch a burst the other does not: measured
      // again, up to three times. A command on the request path would be 150 more every time.
      const perRequest = async (): Promise<{ perRequest: number; said: string }> => {
        const before = await calls();
        const started = Date.now();
        for (let index = 0; index < 150; index += 1) assert.equal((await cluster.requestVia(instances[index % 3]!, '/count', cookie)).status, 200);
        const elapsed = Date.now() - started;
        const during = (await calls()) - before;
        const quietFrom = await calls();
        await delay(elapsed);
        const background = (await calls()) - quietFrom;
        return {
          perRequest: Math.max(0, during - background) / 150,
          said: `${during} during ${(elapsed / 1000).toFixed(1)} s of requests, ${background} in as long a quiet time`,
        };
      };
      const tries = [await perRequest()];
      while (tries.at(-1)!.perRequest >= 0.05 && tries.length < 3) tries.push(await perRequest());
      assert.ok(
        tries.at(-1)!.perRequest < 0.05,
        `Redis commands per request: ${tries.map((entry) => `${entry.perRequest.toFixed(3)} (${entry.said})`).join('; ')}`,
      );
    } finally {
      admin.disconnect();
    }
    for (const path of ['/on-A', '/on-B', '/on-C']) {
      assert.ok(
        cluster.backend.requests.some((request) => request.path === path),
        `${path} reached the backend`,
      );
    }
  });

  it('a logout on B refuses the cookie on A and C at once and closes its WebSocket on A within a second', async () => {
    const cookie = await signedInCookie();
    await everyInstanceServes(cookie, [a, b, c]);
    const socket = cluster.webSocketVia(a, cookie);
    await once(socket, 'message');
    const closed = once(socket, 'close');

    const logout = await cluster.requestVia(b, '/.gatehouse/logout', cookie);
    assert.ok([200, 302, 303].includes(logout.status), `logout on B: ${logout.status} ${logout.body}`);
    const started = Date.now();
    await Promise.race([closed, delay(1_000).then(() => assert.fail('the WebSocket on A is still open a second after the logout on B'))]);
    assert.ok(Date.now() - started <= 1_000);

    for (const instance of [a, c]) {
      const refused = await cluster.requestVia(instance, '/after-logout', cookie);
      assert.equal(refused.status, 401, `${instance.name}: ${refused.body}`);
      assert.match(refused.body, /ERR_SESSION_REVOKED/);
    }
    assert.equal(cluster.backend.requests.filter((request) => request.path === '/after-logout').length, 0);
  });

  it('a connector revoked through C loses its tunnels on A and B; the other connector carries on', async () => {
    const cookie = await signedInCookie();
    const [revoked] = cluster.connectors as [(typeof cluster.connectors)[number]];
    const token = await adminToken(cluster);
    const answer = await callInstanceAsAdmin(cluster, c.connectorPort, `${ADMIN_CONNECTORS_PATH}/${revoked.id}/revoke`, token, 'POST');
    assert.equal(answer.status, 200, answer.body);
    // The connector hears the refusal from whichever instance tells it first, and stops.
    const [code] = (await once(revoked.process.child, 'exit')) as [number | null];
    assert.notEqual(code, 0);
    await everyInstanceServes(cookie, [a, b, c]);
    for (const instance of [a, b, c]) assert.equal((await cluster.requestVia(instance, '/after-revoke', cookie)).status, 200);
  });

  it('B killed under load: requests to A and C keep succeeding; the connectors dial B again when it returns', async () => {
    const cookie = await signedInCookie();
    await everyInstanceServes(cookie, [a, b, c]);
    let failures = 0;
    let served = 0;
    let stop = false;
    const load = (async () => {
      while (!stop) {
        for (const instance of [a, c]) {
          const answer = await cluster.requestVia(instance, '/under-load', cookie).catch(() => ({ status: 0, body: '' }));
          if (answer.status === 200) served += 1;
          else failures += 1;
        }
      }
    })();
    await delay(500);
    await b.kill();
    await delay(2_000);
    stop = true;
    await load;
    assert.equal(failures, 0, 'no request to A or C failed while B died');
    assert.ok(served > 10, `requests kept flowing (${served})`);

    await b.start();
    await everyInstanceServes(cookie, [b]);
    // Each connector dialled the new B (a new instance id) by itself.
    for (const connector of cluster.connectors.filter((running) => running.process.child.exitCode === null)) {
      const deadline = Date.now() + 20_000;
      while (tunnelledInstances(connector.process.stderr()).size < 4) {
        if (Date.now() > deadline) assert.fail(`connector ${connector.id} did not dial the restarted instance:\n${connector.process.stderr()}`);
        await delay(200);
      }
    }
  });

  it('Redis stopped for a few seconds: sessions keep working, a new sign-in gets 503, nothing revoked comes back; it recovers by itself', async () => {
    const kept = await signedInCookie();
    const leaving = await signedInCookie('bob');
    await everyInstanceServes(kept, [a, b, c]);
    assert.equal((await cluster.requestVia(a, '/.gatehouse/logout', leaving)).status >= 300, true);

    await cluster.redis.stop();
    try {
      for (let round = 0; round < 5; round += 1) {
        for (const instance of [a, b, c]) {
          assert.equal(
            (await cluster.requestVia(instance, '/during-outage', kept)).status,
            200,
            `${instance.name} serves a valid session within the grace period`,
          );
          assert.equal((await cluster.requestVia(instance, '/during-outage', leaving)).status, 401, `${instance.name} still refuses the revoked one`);
        }
        await delay(400);
      }
      const browser = cluster.browser();
      const status = await browser.signIn(`${cluster.wikiUrl}/start`, 'dana', 'dana-password').then(
        (result) => result.response.status,
        () => 0,
      );
      assert.equal(status, 503, 'a sign-in needs the store: refused with 503 while Redis is down');
      const registration = await cluster.register('during-outage');
      assert.notEqual(registration.code, 0);
      assert.match(registration.stderr, /ERR_STORE_UNAVAILABLE/, 'a registration is refused with the store code, not an internal error');
    } finally {
      await cluster.redis.start();
    }
    // Back: a fresh sign-in works again without restarting anything, and the revoked cookie stays refused.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const browser = cluster.browser();
      const result = await browser.signIn(`${cluster.wikiUrl}/start`, 'alice', 'alice-password').catch(() => undefined);
      if (result?.response.status === 200) break;
      if (Date.now() > deadline) assert.fail('sign-ins did not recover after Redis came back');
      await delay(500);
    }
    for (const instance of [a, b, c]) assert.equal((await cluster.requestVia(instance, '/after-outage', leaving)).status, 401);
  });
});

async function adminToken(cluster: GatewayCluster): Promise<string> {
  const tokens = await adminTokens(cluster.idp.issuer, cluster.ca.certPem);
  try {
    return await tokens.get('alice', 'alice-password');
  } finally {
    await tokens.close();
  }
}

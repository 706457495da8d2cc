import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { adminTokens } from '../../dev/lib/device-approval.ts';
import type { GroupInstance } from '../../src/connector-plane/instance-overview.ts';
import { INSTANCE_HEARTBEAT_MS, INSTANCE_TTL_MS } from '../../src/limits.ts';
import { ADMIN_OVERVIEW_PATH } from '../../src/protocol/connector-api.ts';
import { callInstanceAsAdmin, startGatewayCluster, type ClusterInstance, type GatewayCluster } from '../support/gateway-cluster.ts';

interface Overview {
  readonly groups: ReadonlyArray<{ readonly name: string; readonly instances: readonly GroupInstance[] }>;
}

/**
 * Two `gatehouse serve` processes on one real redis-server and a real
 * connector with tunnels to both: the overview one instance answers shows the
 * tunnels on each, from the record each instance renews in the store.
 */
describe("admin overview: every instance's tunnels, from any instance (two gateways on one Redis, a real connector)", function () {
  this.timeout(180_000);
  let cluster: GatewayCluster;
  let a: ClusterInstance;
  let b: ClusterInstance;
  let token: string;

  before(async () => {
    cluster = await startGatewayCluster({ instances: 2 });
    [a, b] = cluster.instances as [ClusterInstance, ClusterInstance];
    await cluster.addConnector();
    const tokens = await adminTokens(cluster.idp.issuer, cluster.ca.certPem);
    try {
      token = await tokens.get('alice', 'alice-password');
    } finally {
      await tokens.close();
    }
  });
  after(async () => {
    await cluster?.close();
  });

  /** Each instance's tunnels from the connector's side: its progress lines name each tunnel and the instance it reached. */
  function tunnelsPerInstance(output: string): Map<string, number> {
    const tunnels = new Map<string, Set<string>>();
    for (const [, name, id] of output.matchAll(/(tunnel-\d+)@(gw-[0-9a-f]+) link connected/g)) tunnels.set(id!, (tunnels.get(id!) ?? new Set()).add(name!));
    return new Map([...tunnels].map(([id, names]) => [id, names.size]));
  }

  async function overviewFrom(instance: ClusterInstance): Promise<readonly GroupInstance[]> {
    const answer = await callInstanceAsAdmin(cluster, instance.connectorPort, ADMIN_OVERVIEW_PATH, token);
    assert.equal(answer.status, 200, answer.body);
    const overview = JSON.parse(answer.body) as Overview;
    const group = overview.groups.find((candidate) => candidate.name === 'default');
    assert.ok(group, answer.body);
    return group.instances;
  }

  it("lists both instances, each with the connector's tunnels to it; a stopped instance leaves the list (or shows stale) within the record's expiry", async () => {
    const [connector] = cluster.connectors;
    assert.ok(connector);
    let deadline = Date.now() + 60_000;
    let expected = new Map<string, number>();
    let shown: readonly GroupInstance[];
    for (;;) {
      expected = tunnelsPerInstance(connector.process.stderr());
      shown = await overviewFrom(a);
      const matches = expected.size === 2 && shown.length === 2 && shown.every((row) => row.state === 'live' && row.tunnels === expected.get(row.id));
      if (matches) break;
      if (Date.now() > deadline)
        assert.fail(`the overview from A never matched the connector's tunnels ${JSON.stringify([...expected])}: ${JSON.stringify(shown)}`);
      await delay(250);
    }
    assert.ok([...expected.values()].every((count) => count > 0));
    assert.equal(new Set(shown.map((row) => row.url)).size, 2, 'each instance with its own URL');
    for (const row of shown) assert.equal(typeof row.streamsInFlight, 'number');
    const bId = shown.find((row) => row.url?.endsWith(`:${b.connectorPort}`))?.id;
    assert.ok(bId, `B (port ${b.connectorPort}) is listed: ${JSON.stringify(shown)}`);

    await b.kill();
    const killedAt = Date.now();
    deadline = killedAt + INSTANCE_TTL_MS + 2 * INSTANCE_HEARTBEAT_MS + 5_000;
    for (;;) {
      shown = await overviewFrom(a);
      const row = shown.find((candidate) => candidate.id === bId);
      if (row === undefined || row.state !== 'live') break;
      if (Date.now() > deadline) assert.fail(`B still shown live ${Date.now() - killedAt} ms after it was killed: ${JSON.stringify(shown)}`);
      await delay(250);
    }
    assert.ok(
      shown.some((row) => row.state === 'live' && row.id !== bId),
      'A still lists itself',
    );
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { exitOf, runConnectorCli, startConnectorCli } from '../../../dev/lib/connector-process.ts';
import { adminTokens, CONNECTOR_RESOURCE_SERVER, CONNECTOR_SCOPE, DEVICE_CLIENT } from '../../../dev/lib/device-approval.ts';
import { createDevCa } from '../../../dev/lib/dev-ca.ts';
import { startIdentityProvider, type DevIdentityProvider } from '../../../dev/lib/identity-provider/index.ts';
import type { RunningProcess } from '../../../dev/lib/processes.ts';
import { memorySink, type MemorySink } from '../../../src/audit/audit-log.ts';
import type { ConnectorService } from '../../../src/connector-plane/connector-service.ts';
import { createGateway, type Gateway } from '../../../src/gateway/create-gateway.ts';
import { createKeyAndCsr } from '../../../src/pki/create-key-and-csr.ts';
import { verifyCsr } from '../../../src/pki/csr.ts';
import { ADMIN_CONNECTORS_PATH, CONFIG_PATH } from '../../../src/protocol/connector-api.ts';
import { MemoryBroadcast, type Broadcast } from '../../../src/store/broadcast.ts';
import { MemoryStore } from '../../../src/store/memory-store.ts';
import { callService } from '../../support/mtls-client.ts';
import { dialListenerTunnels } from '../../support/tunnel-harness.ts';

/** The shared store, counting full registry reads: one per registry reload on any instance. */
class CountingStore extends MemoryStore {
  registryReads = 0;

  override list(prefix: string): Promise<string[]> {
    if (prefix === 'connector:') this.registryReads += 1;
    return super.list(prefix);
  }
}

interface Instance {
  readonly name: string;
  readonly gateway: Gateway;
  readonly service: ConnectorService;
  readonly url: string;
  readonly audit: MemorySink;
}

interface Registered {
  readonly id: string;
  readonly dir: string;
  readonly cert: string;
  readonly key: string;
}

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const started = performance.now();
  while (!condition()) {
    if (performance.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await sleep(10);
  }
  return performance.now() - started;
}

describe('connector plane across gateway instances sharing one store (real gateways, real connectors)', function () {
  this.timeout(120_000);
  let idp: DevIdentityProvider;
  let tokens: Awaited<ReturnType<typeof adminTokens>>;
  let root: string;
  let caFile: string;
  let caPem: string;
  let store: CountingStore;
  let a: Instance;
  let b: Instance;
  /** Shares the store but hears nothing: like a second process on one SQLite file. */
  let deaf: Instance;
  let count = 0;
  const running: RunningProcess[] = [];

  async function startInstance(name: string, broadcast: Broadcast): Promise<Instance> {
    const audit = memorySink();
    const gateway = createGateway(
      {
        identityProvider: { issuer: idp.issuer, clientId: 'gatehouse-gateway', clientSecret: 'gatehouse-gateway-secret', ca: idp.caPem },
        session: { secrets: [{ id: 1, secret: 'cross-instance-session-secret-0123456789' }] },
        store: { url: 'memory:' },
        apps: [{ id: 'wiki', externalUrl: 'https://wiki.gatehouse.test', internalUrl: 'http://10.20.0.5:8080' }],
        connectors: {
          listen: { host: '127.0.0.1', port: 0 },
          stateDir: join(root, `gateway-${name}`),
          heartbeatInterval: '1h',
          admin: { scope: CONNECTOR_SCOPE },
        },
      },
      { audit, connectorStore: store, broadcast },
    );
    await gateway.ready();
    const service = gateway.connectors!;
    const address = await service.listen(0, '127.0.0.1');
    return { name, gateway, service, url: `https://127.0.0.1:${address.port}`, audit };
  }

  before(async function () {
    idp = await startIdentityProvider({
      ca: createDevCa({ commonName: 'Gatehouse cross-instance test CA' }),
      clients: [
        { client_id: 'gatehouse-gateway', client_secret: 'gatehouse-gateway-secret', redirect_uris: ['https://wiki.gatehouse.test/.gatehouse/callback'] },
        DEVICE_CLIENT,
      ],
      resourceServers: CONNECTOR_RESOURCE_SERVER,
    });
    tokens = await adminTokens(idp.issuer, idp.caPem);
    root = mkdtempSync(join(tmpdir(), 'gatehouse-cross-instance-'));
    store = new CountingStore();
    const broadcast = new MemoryBroadcast();
    a = await startInstance('a', broadcast);
    b = await startInstance('b', broadcast);
    deaf = await startInstance('deaf', new MemoryBroadcast());
    caPem = a.service.ca.certPem;
    assert.equal(b.service.ca.certPem, caPem, 'one connector CA for every instance');
    caFile = join(root, 'service-ca.pem');
    writeFileSync(caFile, caPem);
  });

  afterEach(async function () {
    await Promise.all(running.splice(0).map((process) => process.stop('SIGKILL')));
  });

  after(async function () {
    for (const instance of [a, b, deaf]) await instance?.gateway.close();
    await tokens?.close();
    await idp?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  async function adminToken(): Promise<string> {
    const alice = idp.users.find((user) => user.login === 'alice')!;
    return tokens.get('alice', alice.password);
  }

  async function register(through: Instance): Promise<Registered> {
    count += 1;
    const dir = join(root, `connector-${count}`);
    const result = await runConnectorCli(['register', '--service', through.url, '--state-dir', dir, '--ca-file', caFile], {
      GATEHOUSE_CONNECTOR_TOKEN: await adminToken(),
    });
    assert.equal(result.code, 0, result.stderr);
    const id = /(c-[0-9a-f]{20})/.exec(result.stderr + result.stdout)?.[1];
    assert.ok(id);
    return { id, dir, cert: readFileSync(join(dir, 'connector.crt'), 'utf8'), key: readFileSync(join(dir, 'connector.key'), 'utf8') };
  }

  function run(connector: Registered): RunningProcess {
    const process = startConnectorCli(['run', '--state-dir', connector.dir, '--log-level', 'info']);
    running.push(process);
    return process;
  }

  const tunnelsOf = (instance: Instance, id: string): number =>
    instance.service.tunnels.sessions().filter((session) => session.connectorId === id && !session.closed).length;

  it('accepts at once, on another instance, a connector registered through one', async function () {
    const connector = await register(a);
    const tunnels = await dialListenerTunnels({
      serviceUrl: b.url,
      caPem,
      identity: { certPem: connector.cert, keyPem: connector.key },
      transports: ['tls', 'websocket'],
    });
    try {
      await until(() => tunnelsOf(b, connector.id) === 2, 2000, 'both tunnels on b');
      const config = await callService(b.url, caPem, { path: CONFIG_PATH, cert: connector.cert, key: connector.key });
      assert.equal(config.status, 200, config.body);
      assert.equal(config.json<{ connectorId: string }>().connectorId, connector.id);
    } finally {
      await tunnels.close();
    }
  });

  it('accepts it on an instance that hears no broadcast too, by reading the store on the unknown certificate', async function () {
    const connector = await register(a);
    const config = await callService(deaf.url, caPem, { path: CONFIG_PATH, cert: connector.cert, key: connector.key });
    assert.equal(config.status, 200, config.body);
    const tunnels = await dialListenerTunnels({
      serviceUrl: deaf.url,
      caPem,
      identity: { certPem: connector.cert, keyPem: connector.key },
      transports: ['tls'],
    });
    try {
      await until(() => tunnelsOf(deaf, connector.id) === 1, 2000, 'the tunnel on the deaf instance');
    } finally {
      await tunnels.close();
    }
  });

  it('revoked through one instance: its tunnels on the other close within a second, its next call there is refused, audited once', async function () {
    const connector = await register(a);
    const process = run(connector);
    await process.waitFor(/tunnel-2(@\S+)? link connected/);
    await until(() => tunnelsOf(a, connector.id) === 2 && a.service.events.isConnected(connector.id), 5000, 'the connector connected to a');
    const auditedBefore = [a, b].map((instance) => instance.audit.ofType('connector.revoked').length);

    const revoke = await callService(b.url, caPem, {
      method: 'POST',
      path: `${ADMIN_CONNECTORS_PATH}/${connector.id}/revoke`,
      headers: { authorization: `Bearer ${await adminToken()}` },
    });
    assert.equal(revoke.status, 200, revoke.body);
    const took = await until(() => tunnelsOf(a, connector.id) === 0 && !a.service.events.isConnected(connector.id), 1000, 'tunnels and stream on a closed');
    assert.ok(took < 1000, `closed on a after ${Math.round(took)} ms`);

    const refused = await callService(a.url, caPem, { path: CONFIG_PATH, cert: connector.cert, key: connector.key });
    assert.equal(refused.status, 401, refused.body);
    assert.equal(refused.json<{ error: { code: string } }>().error.code, 'ERR_CONNECTOR_REVOKED');
    assert.notEqual(await exitOf(process), 0, 'the connector stops: it was told it is revoked');

    const audited = [a, b].map((instance, i) => instance.audit.ofType('connector.revoked').length - (auditedBefore[i] ?? 0));
    assert.deepEqual(audited, [0, 1], 'one audit event, on the instance that revoked it');
  });

  it('a version raised on one instance makes a connector connected to another pull the new configuration', async function () {
    const connector = await register(b);
    const process = run(connector);
    const [, first] = await process.waitFor(/configuration version (\d+) applied/);
    await process.waitFor(/control link connected/);
    const version = await a.service.bumpVersion('test');
    assert.ok(version > Number(first));
    await process.waitFor(new RegExp(`configuration version ${version} applied`), 5000);
    assert.equal(b.service.version, version);
  });

  it('reads the store at most about once a second under a flood of unknown certificates', async function () {
    const { keyPem, csrPem } = createKeyAndCsr();
    const csr = verifyCsr(csrPem);
    const strays = Array.from({ length: 8 }, (_, i) =>
      a.service.ca.issueClientCertificate(csr, { connectorId: `c-stray${i}`, group: 'default' }, { validDays: 1, now: Date.now() }),
    );
    const before = store.registryReads;
    const started = performance.now();
    for (let round = 0; round < 3; round++) {
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, i) => callService(b.url, caPem, { path: CONFIG_PATH, cert: strays[i % strays.length]!.certPem, key: keyPem })),
      );
      for (const answer of answers) assert.equal(answer.status, 401, answer.body);
    }
    const seconds = (performance.now() - started) / 1000;
    const reads = store.registryReads - before;
    assert.ok(reads >= 1, 'an unknown certificate reads the store before it is refused');
    assert.ok(reads <= Math.ceil(seconds) + 1, `${reads} registry reads in ${seconds.toFixed(1)} s for 120 calls`);
  });
});

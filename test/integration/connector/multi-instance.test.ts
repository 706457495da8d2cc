import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request as httpsRequest, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import express from 'express';
import { startConnectorCli } from '../../../dev/lib/connector-process.ts';
import { createDevCa } from '../../../dev/lib/dev-ca.ts';
import type { RunningProcess } from '../../../dev/lib/processes.ts';
import { memorySink } from '../../../src/audit/audit-log.ts';
import { ConnectorConfigStore } from '../../../src/connector/config.ts';
import { createControlLink } from '../../../src/connector/control-link.ts';
import { registerConnector } from '../../../src/connector/register.ts';
import { ServiceClient } from '../../../src/connector/service-client.ts';
import type { ClientIdentity } from '../../../src/connector/state.ts';
import { createGateway, type Gateway } from '../../../src/gateway/create-gateway.ts';
import { createLogger } from '../../../src/logging/logger.ts';
import { createKeyAndCsr } from '../../../src/pki/csr.ts';
import { CONFIG_PATH } from '../../../src/protocol/connector-api.ts';
import { TUNNEL_ALPN } from '../../../src/protocol/tunnel-wire.ts';
import { MemoryBroadcast } from '../../../src/store/broadcast.ts';
import { MemoryStore } from '../../../src/store/memory-store.ts';
import { startConnectorService, type ConnectorServiceHarness } from '../../support/connector-service.ts';
import { callService } from '../../support/mtls-client.ts';
import { startStack, type Stack } from '../../support/stack.ts';

/** A gateway beside the stack's, on the same configuration and connector-plane store: another instance of one deployment. */
interface Instance {
  readonly gateway: Gateway;
  readonly port: number;
  /** Where connectors reach this instance in particular (no advertiseUrl in tests: the listener's address). */
  readonly connectorUrl: string;
  close(): Promise<void>;
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`not within ${timeoutMs} ms: ${what()}`);
    await sleep(50);
  }
}

/**
 * Two (then three) gateway instances in one process sharing one connector
 * plane store, one real connector: it keeps its tunnels to each instance, so
 * whichever instance a request lands on forwards it itself; instances that
 * leave lose their tunnels, instances that come get theirs.
 */
describe('many gateway instances, one connector: tunnels to each live instance', function () {
  this.timeout(120_000);
  const store = new MemoryStore();
  const broadcast = new MemoryBroadcast();
  let stack: Stack;
  let dir: string;
  let connectorId: string;
  let connector: RunningProcess | undefined;
  const extra: Instance[] = [];
  /** The connector process's progress lines so far. */
  const progress = (): string[] =>
    (connector?.stderr() ?? '')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => line.replace(/^gatehouse-connector: /, ''));

  async function startInstance(): Promise<Instance> {
    const certificate = stack.ca.issueServerCertificate(['open.gatehouse.test']);
    const server: Server = createServer({ cert: certificate.certPem, key: certificate.keyPem });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const gateway = createGateway(stack.config, { clock: stack.clock, audit: memorySink(), connectorStore: store, broadcast });
    const listener = express();
    listener.use(gateway.handler);
    server.on('request', listener);
    const detach = gateway.attach(server);
    await gateway.ready();
    const address = await gateway.connectors!.listen(0, '127.0.0.1');
    const instance: Instance = {
      gateway,
      port: (server.address() as AddressInfo).port,
      connectorUrl: `https://127.0.0.1:${address.port}`,
      async close() {
        server.off('request', listener);
        detach();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await gateway.close();
      },
    };
    extra.push(instance);
    return instance;
  }

  /** The instance id the store holds for a connector URL. */
  async function instanceId(connectorUrl: string): Promise<string> {
    for (const key of await store.list('instance:')) {
      const record = JSON.parse((await store.get(key)) ?? '{}') as { id?: string; url?: string };
      if (record.url === connectorUrl && record.id) return record.id;
    }
    assert.fail(`no instance record for ${connectorUrl}`);
  }

  const tunnelsOn = (gateway: Gateway): number =>
    gateway.connectors!.tunnels.sessions().filter((session) => session.connectorId === connectorId && !session.closed).length;

  /** A passthrough request sent to one instance's port, with the Host a load balancer would keep. */
  function requestVia(port: number, path: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port,
          path,
          servername: 'open.gatehouse.test',
          ca: stack.ca.certPem,
          headers: { host: new URL(stack.urls.open).host, accept: 'application/json' },
          agent: false,
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  /** How often the connector's tunnel links to `id` came up or went down so far. */
  const attemptsTo = (id: string): number => progress().filter((line) => line.includes(`@${id} `)).length;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-multi-instance-'));
    stack = await startStack({ connectors: true, gatewayOptions: { connectorStore: store, broadcast } });
    const registered = await registerConnector({
      serviceUrl: stack.connectorUrl,
      token: await stack.adminToken('alice'),
      stateDir: dir,
      caFile: stack.connectorCaFile,
      name: 'multi',
    });
    connectorId = registered.connectorId;
  });

  after(async () => {
    await connector?.stop();
    for (const instance of extra) await instance.close();
    await stack?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('holds its tunnels to both instances, and a request through either reaches the backend', async () => {
    const b = await startInstance();
    // A real `gatehouse-connector run`, as deployed: same certificate and CA for every instance.
    connector = startConnectorCli(['run', '--state-dir', dir, '--log-level', 'info', '--tunnels', '2']);
    const [idA, idB] = [await instanceId(stack.connectorUrl), await instanceId(b.connectorUrl)];
    // The gateway counts a tunnel when it accepts it; the connector says so once the acceptance (SETTINGS) reached it.
    const reported = (): boolean =>
      [idA, idB].every((id) => [1, 2].every((index) => progress().some((line) => line.startsWith(`tunnel-${index}@${id} link connected`))));
    await until(
      () => tunnelsOn(stack.gateway) === 2 && tunnelsOn(b.gateway) === 2 && reported(),
      15_000,
      () => `tunnels a=${tunnelsOn(stack.gateway)} b=${tunnelsOn(b.gateway)}\n${progress().join('\n')}`,
    );
    for (const [name, port] of [
      ['a', stack.port],
      ['b', b.port],
    ] as const) {
      const before = stack.backend.requests.length;
      const answer = await requestVia(port, `/via-${name}`);
      assert.equal(answer.status, 200, `${name}: ${answer.body}`);
      assert.equal(stack.backend.requests.length, before + 1);
      assert.equal(stack.backend.requests.at(-1)?.path, `/via-${name}`);
    }
  });

  it('drops its tunnels to an instance that stopped, and keeps serving through the other', async () => {
    const b = extra[0]!;
    const idB = await instanceId(b.connectorUrl);
    await b.close();
    extra.shift();
    // The stopped instance deleted its record; the other notices on its next heartbeat and tells the connector,
    // which goes back to its tunnels to the URL it registered with (the only instance left).
    const from = progress().length;
    await until(
      () =>
        tunnelsOn(stack.gateway) === 2 &&
        progress()
          .slice(from)
          .some((line) => /^tunnel-2 link connected/.test(line)),
      10_000,
      () => `tunnels on a: ${tunnelsOn(stack.gateway)}\n${progress().slice(from).join('\n')}`,
    );
    const attempts = attemptsTo(idB);
    await sleep(1000);
    assert.equal(attemptsTo(idB), attempts, `no more dialling of the stopped instance:\n${progress().join('\n')}`);
    const answer = await requestVia(stack.port, '/after-b-left');
    assert.equal(answer.status, 200, answer.body);
  });

  it('drops an instance whose record expired (it stopped without a word) within a heartbeat of its expiry', async () => {
    // What a killed instance leaves behind: its last record, due to expire, and nothing listening.
    const dead = createServer();
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    const deadPort = (dead.address() as AddressInfo).port;
    await new Promise<void>((resolve) => dead.close(() => resolve()));
    const ghost = { id: 'gw-ghost', url: `https://127.0.0.1:${deadPort}`, expiresAt: stack.clock() + 4_000 };
    await store.put(`instance:${ghost.id}`, JSON.stringify(ghost));
    await until(
      () => attemptsTo(ghost.id) > 0,
      8_000,
      () => `the connector never dialled the listed instance:\n${progress().join('\n')}`,
    );
    const listedAt = Date.now();
    await until(
      async () => (await store.get(`instance:${ghost.id}`)) === undefined,
      12_000,
      () => 'the expired record is still in the store',
    );
    assert.ok(Date.now() - listedAt >= 2_000, 'not dropped before it expired');
    await sleep(500);
    const attempts = attemptsTo(ghost.id);
    await sleep(1000);
    assert.equal(attemptsTo(ghost.id), attempts, `no more dialling of the expired instance:\n${progress().join('\n')}`);
    await until(
      () => tunnelsOn(stack.gateway) === 2,
      5_000,
      () => `tunnels on a: ${tunnelsOn(stack.gateway)}`,
    );
  });

  it('an instance whose advertised URL fails TLS verification costs only its own tunnels: the connector keeps running', async () => {
    const stranger = createDevCa({ commonName: 'not the connector CA' }).issueServerCertificate(['127.0.0.1']);
    const misconfigured = createServer({ cert: stranger.certPem, key: stranger.keyPem, ALPNProtocols: [TUNNEL_ALPN] });
    await new Promise<void>((resolve) => misconfigured.listen(0, '127.0.0.1', resolve));
    try {
      const wrong = { id: 'gw-wrong', url: `https://127.0.0.1:${(misconfigured.address() as AddressInfo).port}`, expiresAt: stack.clock() + 4_000 };
      await store.put(`instance:${wrong.id}`, JSON.stringify(wrong));
      await until(
        () => progress().filter((line) => line.startsWith(`tunnel-1@${wrong.id} link down`)).length >= 2,
        8_000,
        () => `the connector did not retry the misconfigured instance:\n${progress().join('\n')}`,
      );
      await sleep(100);
      assert.equal(connector!.child.exitCode, null, progress().join('\n'));
      assert.equal(connector!.child.signalCode, null);
      const answer = await requestVia(stack.port, '/despite-wrong');
      assert.equal(answer.status, 200, answer.body);
      await until(
        async () => (await store.get(`instance:${wrong.id}`)) === undefined && tunnelsOn(stack.gateway) === 2,
        12_000,
        () => `the misconfigured instance did not expire, or tunnels on a: ${tunnelsOn(stack.gateway)}`,
      );
    } finally {
      misconfigured.closeAllConnections();
      await new Promise<void>((resolve) => misconfigured.close(() => resolve()));
    }
  });

  it('gets tunnels to a new instance within a few seconds, and serves through it', async () => {
    const started = Date.now();
    const c = await startInstance();
    await until(
      () => tunnelsOn(c.gateway) === 2,
      10_000,
      () => `tunnels on c: ${tunnelsOn(c.gateway)}\n${progress().join('\n')}`,
    );
    assert.ok(Date.now() - started < 10_000);
    // And still two on the first instance (a link that dropped under load is dialled again at once: named if it is not).
    await until(
      () => tunnelsOn(stack.gateway) === 2,
      5_000,
      () => `tunnels on the first instance: ${tunnelsOn(stack.gateway)}\n${progress().join('\n')}`,
    );
    const answer = await requestVia(c.port, '/via-c');
    assert.equal(answer.status, 200, answer.body);
    assert.equal(stack.backend.requests.at(-1)?.path, '/via-c');
  });
});

/**
 * A connector pulls its configuration, then opens its events stream, perhaps
 * on another instance behind the balancer: a change of instances in between
 * would reach it through neither. So each fresh stream names the instances,
 * and the connector pulls again only if its list differs.
 */
describe('the instances named on each fresh events stream', function () {
  this.timeout(60_000);
  let harness: ConnectorServiceHarness;
  let identity: ClientIdentity;
  let connectorId: string;
  const clients: ServiceClient[] = [];

  before(async () => {
    harness = await startConnectorService();
    const { keyPem, csrPem } = createKeyAndCsr();
    const response = await callService(harness.serviceUrl, harness.service.ca.certPem, {
      path: '/.gatehouse/connector/register',
      headers: { authorization: `Bearer ${await harness.adminToken('alice')}` },
      body: { csr: csrPem, group: 'default', name: 'stream-instances' },
    });
    assert.equal(response.status, 201, response.body);
    const issued = response.json<{ connectorId: string; certificate: string }>();
    connectorId = issued.connectorId;
    identity = { keyPem, certPem: issued.certificate };
  });

  after(async () => {
    for (const client of clients) client.close();
    await harness?.close();
  });

  /** Runs a control link whose first pull returns `firstInstances` in place of the service's list; resolves how many pulls it made once the stream is open and quiet. */
  async function pullsWith(firstInstances: ((real: unknown[]) => unknown[]) | undefined): Promise<{ pulls: number; ids: string[] }> {
    const client = new ServiceClient({ serviceUrl: harness.serviceUrl, identity, ca: harness.service.ca.certPem });
    clients.push(client);
    const store = new ConnectorConfigStore(connectorId);
    const stop = new AbortController();
    let pulls = 0;
    let open = false;
    const link = createControlLink({
      pullConfig: async (signal) => {
        pulls += 1;
        const document = (await client.call({ method: 'GET', path: CONFIG_PATH, signal })) as { instances: unknown[] };
        store.apply(pulls === 1 && firstInstances ? { ...document, instances: firstInstances(document.instances) } : document);
      },
      renewalRequested: () => undefined,
    });
    const running = link.run({ signal: stop.signal, client, config: store, log: createLogger(), established: () => (open = true) });
    running.catch(() => undefined);
    await until(
      () => open,
      10_000,
      () => 'the events stream did not open',
    );
    await sleep(500);
    stop.abort();
    await running.catch(() => undefined);
    return { pulls, ids: (store.current?.instances ?? []).map(({ id }) => id) };
  }

  it('a connector whose list changed between its pull and its stream pulls again; one whose list matches does not', async () => {
    const store = await harness.service.store();
    const live = (await store.list('instance:')).map((key) => key.slice('instance:'.length));
    assert.equal(live.length, 1);
    const stale = await pullsWith((real) => [...real, { id: 'gw-gone', url: 'https://127.0.0.1:9' }]);
    assert.deepEqual(stale, { pulls: 2, ids: live });
    const current = await pullsWith(undefined);
    assert.deepEqual(current, { pulls: 1, ids: live });
  });
});

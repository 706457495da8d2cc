import assert from 'node:assert/strict';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { TunnelAgent } from '../../../src/tunnel/tunnel-agent.ts';
import { StreamSocket } from '../../../src/tunnel/stream-socket.ts';
import { TunnelPool } from '../../../src/tunnel/tunnel-pool.ts';
import { isTunnelError } from '../../../src/errors/tunnel-error.ts';
import {
  createTestPki,
  fetchBuffer,
  fetchHashed,
  listenerCounts,
  patternSha256,
  startConnectorSide,
  startGateway,
  startOrigin,
  startServiceSide,
  type ConnectorSide,
  type GatewaySide,
  type Origin,
  type ServiceSide,
  type TestPki,
} from '../../support/tunnel-harness.ts';

const MiB = 1024 * 1024;

/** One request through the gateway; resolves with the status, or 'aborted' when `abortAfterHeaders`. */
function hit(
  url: string,
  agent: HttpAgent,
  options: { method?: string; body?: string; close?: boolean; abortAfterHeaders?: boolean } = {},
): Promise<number | 'aborted'> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent, method: options.method ?? 'GET', headers: options.close ? { connection: 'close' } : {} }, (res: IncomingMessage) => {
      if (options.abortAfterHeaders) {
        req.destroy();
        resolve('aborted');
        return;
      }
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
      res.once('error', reject);
    });
    req.once('error', (error) => (options.abortAfterHeaders ? resolve('aborted') : reject(error)));
    req.end(options.body);
  });
}

/** Free (idle keep-alive) sockets of an agent. */
function freeSockets(agent: HttpAgent): StreamSocket[] {
  const sockets: unknown[] = Object.values(agent.freeSockets).flat();
  return sockets.filter((socket): socket is StreamSocket => socket instanceof StreamSocket);
}

function listenerSignature(socket: StreamSocket): string {
  return JSON.stringify(Object.entries(listenerCounts(socket)).sort());
}

describe('TunnelAgent', function () {
  this.timeout(120_000);
  let pki: TestPki;
  let service: ServiceSide;
  let origin: Origin;

  before(async function () {
    pki = createTestPki();
    service = await startServiceSide({ pki });
    origin = await startOrigin({ name: 'endurance' });
  });

  after(async function () {
    await service?.close();
    await origin?.close();
  });

  describe('keep-alive reuse of CONNECT streams over a long run', function () {
    let connector: ConnectorSide;
    let gateway: GatewaySide;
    let client: HttpAgent;
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning);

    before(async function () {
      connector = await startConnectorSide({
        pki,
        service,
        connectorId: 'c-endure',
        group: 'endure',
        apps: new Map([['endure', { internalUrl: origin.url }]]),
      });
      gateway = await startGateway(service.pool, [{ id: 'endure', connectorGroup: 'endure' }]);
      client = new HttpAgent({ keepAlive: true, maxSockets: 32 });
      process.on('warning', onWarning);
    });

    after(async function () {
      process.off('warning', onWarning);
      client?.destroy();
      await gateway?.close();
      await connector?.close();
    });

    it('serves 20,000+ requests with flat listener and stream counts, then a 64 MiB download', async function () {
      const session = connector.sessions[0];
      assert.ok(session);
      const agent = gateway.agents.get('endure');
      assert.ok(agent);
      const base = `${gateway.url}/endure`;

      // Every request kind the proxy sends: keep-alive GET and POST, a
      // Connection: close one, and one aborted by its client mid-way with
      // 1 MiB in flight (400 of them: far more than the connection window,
      // so flow-control credit lost on reset streams would stall the end).
      const mixed = async (i: number): Promise<void> => {
        const kind = i % 50;
        const status =
          kind === 0
            ? await hit(`${base}/hello`, client, { close: true })
            : kind === 1
              ? await hit(`${base}/bytes?n=${MiB}`, client, { abortAfterHeaders: true })
              : kind % 2 === 0
                ? await hit(`${base}/echo`, client, { method: 'POST', body: `request ${i}` })
                : await hit(`${base}/hello`, client);
        if (status !== 'aborted') assert.equal(status, 200, `request ${i}`);
      };
      const run = async (total: number, workers: number): Promise<void> => {
        let next = 0;
        await Promise.all(
          Array.from({ length: workers }, async () => {
            while (next < total) await mixed(next++);
          }),
        );
      };

      await run(1_000, 32);
      const warm = {
        session: session.listenerTotals(),
        streamsOpened: session.streamsOpened,
        signatures: new Set(freeSockets(agent).map(listenerSignature)),
      };
      assert.ok(freeSockets(agent).length > 0, 'streams are kept alive between requests');

      // Sequential (one worker) and concurrent (32 workers) phases.
      await run(2_000, 1);
      await run(18_000, 32);

      assert.deepEqual(session.listenerTotals(), warm.session, 'listeners on the HTTP/2 session and the tunnel socket');
      const free = freeSockets(agent);
      for (const socket of free) assert.ok(warm.signatures.has(listenerSignature(socket)), `listeners on a reused stream: ${listenerSignature(socket)}`);
      // Reused, not reopened: each Connection: close or aborted request costs one stream, nothing else does.
      const closingRequests = Math.ceil(20_000 / 50) * 2;
      assert.ok(
        session.streamsOpened - warm.streamsOpened <= closingRequests + 32,
        `streams opened during the run: ${session.streamsOpened - warm.streamsOpened}`,
      );
      // Nothing left half-open on either side: the connector holds exactly the streams the service has.
      assert.equal(connector.servers[0]?.activeStreams, session.inFlight);
      assert.ok(session.inFlight <= 32, `open streams: ${session.inFlight}`);
      assert.deepEqual(
        warnings.map((warning) => warning.name),
        [],
        'no MaxListenersExceededWarning or any other warning',
      );

      const download = await fetchHashed(`${base}/bytes?n=${64 * MiB}`, { agent: client });
      assert.equal(download.bytes, 64 * MiB);
      assert.equal(download.sha256, patternSha256(64 * MiB));
    });
  });
  describe('choosing tunnels', function () {
    it('fails with ERR_TUNNEL_NO_CONNECTOR when the group has no tunnel', async function () {
      const agent = new TunnelAgent({ pool: new TunnelPool(), app: { id: 'lonely', connectorGroup: 'nobody' } });
      const error = await new Promise<unknown>((resolve) => {
        const req = httpRequest('http://lonely.internal/', { agent }, () => resolve(undefined));
        req.once('error', resolve);
        req.end();
      });
      assert.ok(isTunnelError(error));
      assert.equal(error.code, 'ERR_TUNNEL_NO_CONNECTOR');
      assert.equal(error.status, 503);
      assert.equal(error.beforeUpstream, true);
      agent.destroy();
    });

    it('refuses a malformed app id at construction', function () {
      assert.throws(() => new TunnelAgent({ pool: new TunnelPool(), app: { id: '10.0.0.5:22', connectorGroup: 'default' } }), TypeError);
      assert.throws(() => new TunnelAgent({ pool: new TunnelPool(), app: { id: 'wiki', connectorGroup: 'default' }, attempts: 0 }), TypeError);
    });

    it('tries another connector when one refuses before any byte went upstream, and sends the request id', async function () {
      // The two connectors disagree about the app: the first does not know it.
      const knows = await startConnectorSide({ pki, service, connectorId: 'c-knows', group: 'split', apps: new Map([['split', { internalUrl: origin.url }]]) });
      const ignorant = await startConnectorSide({ pki, service, connectorId: 'c-ignorant', group: 'split', apps: new Map() });
      const gateway = await startGateway(service.pool, [{ id: 'split', connectorGroup: 'split' }]);
      try {
        const answers = await Promise.all(
          Array.from({ length: 6 }, (_, i) => fetchBuffer(`${gateway.url}/split/hello`, { headers: { 'x-request-id': `split-${i}` } })),
        );
        for (const answer of answers) assert.equal(answer.body.toString(), 'hello from endurance');
        assert.ok((ignorant.servers[0]?.refusedStreams ?? 0) > 0, 'the first connector was tried and refused');
        assert.equal(knows.servers[0]?.acceptedStreams, 6);
        const refusal = ignorant.logs.find(/outside this connector's configuration/);
        assert.match(String(refusal?.['requestId']), /^split-\d$/);
      } finally {
        await gateway.close();
        await knows.close();
        await ignorant.close();
      }
    });

    it('closes its idle streams when their tunnel drains, and keeps no stream of a draining tunnel', async function () {
      const draining = await startConnectorSide({ pki, service, connectorId: 'c-idle', group: 'idle', apps: new Map([['idle', { internalUrl: origin.url }]]) });
      const gateway = await startGateway(service.pool, [{ id: 'idle', connectorGroup: 'idle' }]);
      const client = new HttpAgent({ keepAlive: true, maxSockets: 4 });
      try {
        await Promise.all(Array.from({ length: 4 }, () => hit(`${gateway.url}/idle/hello`, client)));
        const agent = gateway.agents.get('idle');
        assert.ok(agent);
        assert.equal(freeSockets(agent).length, 4, 'four idle keep-alive streams');
        const session = draining.sessions[0];
        assert.ok(session);
        const closed = session.whenClosed();
        // The connector drains: its GOAWAY makes the idle streams go, so the drain ends without waiting for them.
        const drained = draining.drain(60_000);
        await closed;
        assert.equal((await drained, draining.servers[0]?.activeStreams), 0);
        assert.equal(freeSockets(agent).length, 0);
      } finally {
        client.destroy();
        await gateway.close();
        await draining.close();
      }
    });

    it('is accepted by https.request for an https app (the connector does the TLS)', async function () {
      const { request: httpsRequest } = await import('node:https');
      const agent = new TunnelAgent({ pool: new TunnelPool(), app: { id: 'secure', connectorGroup: 'nobody' }, protocol: 'https:' });
      const error = await new Promise<unknown>((resolve) => {
        const req = httpsRequest('https://secure.internal/', { agent }, () => resolve(undefined));
        req.once('error', resolve);
        req.end();
      });
      // Reaching the tunnel pool (and not a protocol check) proves https.request took the agent.
      assert.ok(isTunnelError(error));
      assert.equal(error.code, 'ERR_TUNNEL_NO_CONNECTOR');
      agent.destroy();
    });
  });
});

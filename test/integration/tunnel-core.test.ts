import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import {
  createTestPki,
  fetchBuffer,
  fetchHashed,
  patternSha256,
  patternStream,
  startConnectorSide,
  startGateway,
  startOrigin,
  startServiceSide,
  type ConnectorSide,
  type GatewaySide,
  type Origin,
  type ServiceSide,
  type TestPki,
} from '../support/tunnel-harness.ts';

const MiB = 1024 * 1024;

/** Starts a GET and resolves once the response headers and `atLeast` body bytes arrived. */
async function startDownload(url: string, atLeast: number): Promise<{ res: IncomingMessage; received: () => number }> {
  const req = httpRequest(url, { agent: false });
  req.end();
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  let received = 0;
  await new Promise<void>((resolve) => {
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (received < atLeast) return;
      res.off('data', onData);
      res.pause();
      resolve();
    };
    res.on('data', onData);
  });
  return { res, received: () => received };
}

/** Resolves with how the response ended: 'end' (complete) or the error/abort that cut it. */
function outcome(res: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    res.once('end', () => resolve('end'));
    res.once('aborted', () => resolve('aborted'));
    res.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    res.resume();
  });
}

describe('tunnel core (e2e): Express + http-proxy-middleware through connector tunnels', function () {
  this.timeout(60_000);
  let pki: TestPki;
  let service: ServiceSide;
  let origin: Origin;
  let secureOrigin: Origin;
  let connector: ConnectorSide;
  let gateway: GatewaySide;

  before(async function () {
    pki = createTestPki();
    const internalPki = createTestPki('Internal apps test CA');
    service = await startServiceSide({ pki });
    origin = await startOrigin({ name: 'wiki' });
    secureOrigin = await startOrigin({ name: 'intranet', tls: internalPki.server });
    connector = await startConnectorSide({
      pki,
      service,
      connectorId: 'c-main',
      group: 'default',
      tunnels: 2,
      apps: new Map([
        ['wiki', { internalUrl: origin.url }],
        ['intranet', { internalUrl: secureOrigin.url, tls: { ca: internalPki.caPem } }],
      ]),
    });
    gateway = await startGateway(service.pool, [
      { id: 'wiki', connectorGroup: 'default' },
      { id: 'intranet', connectorGroup: 'default', protocol: 'https:' },
      { id: 'ghost', connectorGroup: 'default' },
      { id: 'nowhere', connectorGroup: 'empty-group' },
    ]);
  });

  after(async function () {
    await gateway?.close();
    await connector?.close();
    await service?.close();
    await origin?.close();
    await secureOrigin?.close();
  });

  describe('round trips', function () {
    it('GET and POST reach the app and answer', async function () {
      const get = await fetchBuffer(`${gateway.url}/wiki/hello`);
      assert.equal(get.status, 200);
      assert.equal(get.body.toString(), 'hello from wiki');
      const post = await fetchBuffer(`${gateway.url}/wiki/echo`, { method: 'POST', body: 'some form data', headers: { 'content-type': 'text/plain' } });
      assert.equal(post.status, 200);
      assert.equal(post.body.toString(), 'some form data');
    });

    it('reaches an https app with its private CA, the connector doing the TLS', async function () {
      const res = await fetchBuffer(`${gateway.url}/intranet/hello`);
      assert.equal(res.status, 200);
      assert.equal(res.body.toString(), 'hello from intranet');
    });

    it('streams 64 MiB down, with and without Content-Length, hash checked', async function () {
      for (const route of ['bytes', 'chunked']) {
        const res = await fetchHashed(`${gateway.url}/wiki/${route}?n=${64 * MiB}`);
        assert.equal(res.status, 200, route);
        assert.equal(res.bytes, 64 * MiB, route);
        assert.equal(res.sha256, patternSha256(64 * MiB), route);
      }
    });

    it('streams 64 MiB up, chunked, hash checked at the app', async function () {
      const res = await fetchBuffer(`${gateway.url}/wiki/sha`, { method: 'POST', body: patternStream(64 * MiB) });
      assert.equal(res.status, 200);
      assert.deepEqual(JSON.parse(res.body.toString()), { bytes: 64 * MiB, sha256: patternSha256(64 * MiB) });
    });

    it('echoes a chunked 16 MiB body while it is still being sent (both ways at once)', async function () {
      const res = await fetchHashed(`${gateway.url}/wiki/echo`, { method: 'POST', body: patternStream(16 * MiB, 0, 7_000) });
      assert.equal(res.status, 200);
      assert.equal(res.bytes, 16 * MiB);
      assert.equal(res.sha256, patternSha256(16 * MiB));
    });

    it('moves uploads and downloads at once without a flow-control deadlock (4 × 32 MiB each way)', async function () {
      const size = 32 * MiB;
      const sha = patternSha256(size);
      const downloads = Array.from({ length: 4 }, () => fetchHashed(`${gateway.url}/wiki/bytes?n=${size}`));
      const uploads = Array.from({ length: 4 }, () => fetchBuffer(`${gateway.url}/wiki/sha`, { method: 'POST', body: patternStream(size) }));
      for (const res of await Promise.all(downloads)) assert.equal(res.sha256, sha);
      for (const res of await Promise.all(uploads)) assert.deepEqual(JSON.parse(res.body.toString()), { bytes: size, sha256: sha });
    });

    it('delivers a Server-Sent Event while the app still holds the stream open (not buffered)', async function () {
      const req = httpRequest(`${gateway.url}/wiki/sse?tag=sse-1`, { agent: false, headers: { accept: 'text/event-stream' } });
      req.end();
      const [res] = (await once(req, 'response')) as [IncomingMessage];
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /^text\/event-stream/);
      res.setEncoding('utf8');
      const [first] = (await once(res, 'data')) as [string];
      // The app has not finished the response: the event came through on its own.
      assert.equal(first, 'data: first\n\n');
      origin.release('sse-1');
      let rest = '';
      for await (const chunk of res) rest += chunk as string;
      assert.equal(rest, 'data: second\n\n');
    });

    it('carries a WebSocket echo through the tunnel (hpm upgrade over a TunnelAgent stream)', async function () {
      const ws = new WebSocket(`ws://127.0.0.1:${gateway.port}/wiki/ws`, { perMessageDeflate: false });
      await once(ws, 'open');
      const messages: string[] = [];
      ws.on('message', (data: Buffer) => messages.push(data.toString()));
      for (const text of ['one', 'two', 'three']) {
        ws.send(text);
        await once(ws, 'message');
      }
      const big = Buffer.alloc(2 * MiB, 7);
      ws.send(big);
      const [echo] = (await once(ws, 'message')) as [Buffer];
      assert.equal(echo.length, big.length);
      assert.deepEqual(messages.slice(0, 3), ['one', 'two', 'three']);
      ws.close();
      await once(ws, 'close');
    });
  });

  describe('failures', function () {
    it('a client that aborts mid-download makes the app see its connection close', async function () {
      const { res } = await startDownload(`${gateway.url}/wiki/endless?tag=abort-1`, 4 * MiB);
      res.destroy();
      const seen = await origin.closed('abort-1');
      assert.equal(seen.finished, false);
    });

    it('answers 502 ERR_TUNNEL_UNKNOWN_APP when the connector refuses the app, and the connector logs it', async function () {
      const res = await fetchBuffer(`${gateway.url}/ghost/hello`, { headers: { 'x-request-id': 'req-ghost-1' } });
      assert.equal(res.status, 502);
      assert.deepEqual(JSON.parse(res.body.toString()), { code: 'ERR_TUNNEL_UNKNOWN_APP', beforeUpstream: true });
      const line = connector.logs.find(/outside this connector's configuration/);
      assert.ok(line, 'the refusal is logged');
      assert.equal(line['app'], 'ghost');
      assert.equal(line['requestId'], 'req-ghost-1');
    });

    it('answers 503 ERR_TUNNEL_NO_CONNECTOR when the group has no tunnel', async function () {
      const res = await fetchBuffer(`${gateway.url}/nowhere/hello`);
      assert.equal(res.status, 503);
      assert.deepEqual(JSON.parse(res.body.toString()), { code: 'ERR_TUNNEL_NO_CONNECTOR', beforeUpstream: true });
    });

    it('answers 502 ERR_TUNNEL_ORIGIN_RESET when the app resets the connection', async function () {
      const res = await fetchBuffer(`${gateway.url}/wiki/reset`);
      assert.equal(res.status, 502);
      assert.deepEqual(JSON.parse(res.body.toString()), { code: 'ERR_TUNNEL_ORIGIN_RESET', beforeUpstream: false });
    });
  });

  describe('connectors coming and going', function () {
    let pairOrigin: Origin;
    let first: ConnectorSide;
    let second: ConnectorSide;
    let pairGateway: GatewaySide;

    before(async function () {
      pairOrigin = await startOrigin({ name: 'pair' });
      const apps = new Map([['pairapp', { internalUrl: pairOrigin.url }]]);
      first = await startConnectorSide({ pki, service, connectorId: 'c-pair-1', group: 'pair', apps });
      second = await startConnectorSide({ pki, service, connectorId: 'c-pair-2', group: 'pair', apps });
      pairGateway = await startGateway(service.pool, [{ id: 'pairapp', connectorGroup: 'pair' }]);
    });

    after(async function () {
      await pairGateway?.close();
      await first?.close();
      await second?.close();
      await pairOrigin?.close();
    });

    it('balances concurrent requests across two connectors by open streams', async function () {
      const tags = ['b1', 'b2', 'b3', 'b4', 'b5', 'b6'];
      const answers = tags.map((tag) => fetchBuffer(`${pairGateway.url}/pairapp/hold?tag=${tag}`));
      await Promise.all(tags.map((tag) => pairOrigin.arrived(tag)));
      assert.deepEqual([first.sessions[0]?.inFlight, second.sessions[0]?.inFlight], [3, 3], 'six requests in flight, three per connector');
      for (const tag of tags) pairOrigin.release(tag);
      for (const answer of await Promise.all(answers)) assert.equal(answer.body.toString(), 'released');
    });

    it('when one connector dies mid-response, that response fails cleanly and the other takes new requests', async function () {
      // Find which connector carries the download, then kill it.
      const { res } = await startDownload(`${pairGateway.url}/pairapp/endless?tag=kill-1`, 2 * MiB);
      const carrier = first.servers[0]?.activeStreams === 1 ? first : second;
      const survivor = carrier === first ? second : first;
      const ended = outcome(res);
      carrier.kill();
      assert.notEqual(await ended, 'end', 'the cut response must not look complete');
      await Promise.all(carrier.sessions.map((session) => session.whenClosed()));
      assert.equal((await pairOrigin.closed('kill-1')).finished, false, 'the app saw its connection close');
      assert.equal(service.pool.sessions('pair').length, 1, 'the dead tunnel left the pool');
      const before = survivor.servers[0]?.acceptedStreams ?? 0;
      const answers = await Promise.all(Array.from({ length: 8 }, () => fetchBuffer(`${pairGateway.url}/pairapp/hello`)));
      for (const answer of answers) assert.equal(answer.body.toString(), 'hello from pair');
      assert.ok((survivor.servers[0]?.acceptedStreams ?? 0) > before, 'the survivor carried them');
      assert.equal(carrier.servers[0]?.activeStreams, 0, 'nothing left open on the dead connector');
    });
  });

  describe('drain', function () {
    let drainOrigin: Origin;
    let draining: ConnectorSide;
    let drainGateway: GatewaySide;

    before(async function () {
      drainOrigin = await startOrigin({ name: 'drain' });
      draining = await startConnectorSide({
        pki,
        service,
        connectorId: 'c-drain',
        group: 'drain',
        apps: new Map([['drainapp', { internalUrl: drainOrigin.url }]]),
      });
      drainGateway = await startGateway(service.pool, [{ id: 'drainapp', connectorGroup: 'drain' }]);
    });

    after(async function () {
      await drainGateway?.close();
      await draining?.close();
      await drainOrigin?.close();
    });

    it('lets an in-flight download finish after GOAWAY and refuses new streams', async function () {
      const size = 32 * MiB;
      const { res, received } = await startDownload(`${drainGateway.url}/drainapp/gated?tag=drain-1&n=${size}`, MiB);
      const hash = createHash('sha256');
      const done = new Promise<void>((resolve, reject) => {
        res.on('data', (chunk: Buffer) => hash.update(chunk));
        res.once('end', resolve);
        res.once('error', reject);
      });
      const session = draining.sessions[0];
      assert.ok(session);
      const unhealthy = once(session, 'unhealthy');
      const drained = draining.drain(30_000);
      await unhealthy;
      assert.equal(session.unhealthyReason, 'goaway');
      const refused = await fetchBuffer(`${drainGateway.url}/drainapp/hello`);
      assert.equal(refused.status, 503, 'no tunnel takes new streams');
      await assert.rejects(session.openStream('drainapp'), { code: 'ERR_TUNNEL_CLOSED', beforeUpstream: true });
      // Replay what was read before the hash listener was attached: the pattern's first bytes.
      const already = received();
      const head = patternStream(already);
      for await (const chunk of head) hash.update(chunk as Buffer);
      drainOrigin.release('drain-1');
      res.resume();
      await done;
      assert.equal(hash.digest('hex'), patternSha256(size), 'the download completed intact');
      await drained;
      assert.equal(draining.servers[0]?.activeStreams, 0);
      assert.equal((await draining.servers[0]?.closed)?.reason, 'drained');
      await session.whenClosed();
      assert.equal(service.pool.has('drain'), false);
    });
  });

  describe('the WebSocket transport', function () {
    let wsOrigin: Origin;
    let wsConnector: ConnectorSide;
    let wsGateway: GatewaySide;

    before(async function () {
      wsOrigin = await startOrigin({ name: 'over-ws' });
      wsConnector = await startConnectorSide({
        pki,
        service,
        connectorId: 'c-ws',
        group: 'ws',
        transport: 'websocket',
        apps: new Map([['wsapp', { internalUrl: wsOrigin.url }]]),
      });
      wsGateway = await startGateway(service.pool, [{ id: 'wsapp', connectorGroup: 'ws' }]);
    });

    after(async function () {
      await wsGateway?.close();
      await wsConnector?.close();
      await wsOrigin?.close();
    });

    it('round trips GET and POST', async function () {
      assert.equal((await fetchBuffer(`${wsGateway.url}/wsapp/hello`)).body.toString(), 'hello from over-ws');
      const post = await fetchBuffer(`${wsGateway.url}/wsapp/echo`, { method: 'POST', body: 'through a websocket' });
      assert.equal(post.body.toString(), 'through a websocket');
    });

    it('moves uploads and downloads at once (2 × 16 MiB each way)', async function () {
      const size = 16 * MiB;
      const sha = patternSha256(size);
      const downloads = Array.from({ length: 2 }, () => fetchHashed(`${wsGateway.url}/wsapp/bytes?n=${size}`));
      const uploads = Array.from({ length: 2 }, () => fetchBuffer(`${wsGateway.url}/wsapp/sha`, { method: 'POST', body: patternStream(size) }));
      for (const res of await Promise.all(downloads)) assert.equal(res.sha256, sha);
      for (const res of await Promise.all(uploads)) assert.deepEqual(JSON.parse(res.body.toString()), { bytes: size, sha256: sha });
    });

    it('moves 64 MiB down and up, hash checked', async function () {
      const down = await fetchHashed(`${wsGateway.url}/wsapp/bytes?n=${64 * MiB}`);
      assert.equal(down.bytes, 64 * MiB);
      assert.equal(down.sha256, patternSha256(64 * MiB));
      const up = await fetchBuffer(`${wsGateway.url}/wsapp/sha`, { method: 'POST', body: patternStream(64 * MiB) });
      assert.deepEqual(JSON.parse(up.body.toString()), { bytes: 64 * MiB, sha256: patternSha256(64 * MiB) });
    });
  });
});

import assert from 'node:assert/strict';
import type { StreamSocket } from '../../../src/tunnel/stream-socket.ts';
import {
  createTestPki,
  startConnectorSide,
  startOrigin,
  startServiceSide,
  type ConnectorSide,
  type Origin,
  type ServiceSide,
  type TestPki,
} from '../../support/tunnel-harness.ts';

describe('TunnelPool', function () {
  this.timeout(30_000);
  let pki: TestPki;
  let origin: Origin;
  let service: ServiceSide;
  let one: ConnectorSide;
  let two: ConnectorSide;
  let other: ConnectorSide;

  before(async function () {
    pki = createTestPki();
    origin = await startOrigin();
    service = await startServiceSide({ pki });
    const apps = new Map([['app', { internalUrl: origin.url }]]);
    one = await startConnectorSide({ pki, service, connectorId: 'c-one', group: 'blue', apps, tunnels: 2 });
    two = await startConnectorSide({ pki, service, connectorId: 'c-two', group: 'blue', apps });
    other = await startConnectorSide({ pki, service, connectorId: 'c-other', group: 'green', apps });
  });

  after(async function () {
    await one?.close();
    await two?.close();
    await other?.close();
    await service?.close();
    await origin?.close();
  });

  it('knows its tunnels by group', function () {
    const { pool } = service;
    assert.equal(pool.size, 4);
    assert.equal(pool.sessions('blue').length, 3);
    assert.equal(pool.has('blue'), true);
    assert.equal(pool.has('green'), true);
    assert.equal(pool.has('red'), false);
    assert.equal(pool.pick('red'), undefined);
  });

  it('picks the tunnel with the fewest open streams, across connectors and across one connector’s tunnels', async function () {
    const { pool } = service;
    const held: StreamSocket[] = [];
    for (let i = 0; i < 9; i++) {
      const session = pool.pick('blue');
      assert.ok(session);
      held.push(await session.openStream('app'));
    }
    assert.deepEqual(
      pool.sessions('blue').map((session) => session.inFlight),
      [3, 3, 3],
      'nine streams spread over three tunnels',
    );
    for (const socket of held) socket.destroy();
  });

  it('skips excluded connectors', function () {
    const { pool } = service;
    for (let i = 0; i < 6; i++) assert.equal(pool.pick('blue', new Set(['c-one']))?.connectorId, 'c-two');
    assert.equal(pool.pick('blue', new Set(['c-one', 'c-two'])), undefined);
  });

  it('drops a tunnel that closes, and never picks an unhealthy one', async function () {
    const { pool } = service;
    const doomed = two.sessions[0];
    assert.ok(doomed);
    two.kill();
    await doomed.whenClosed();
    assert.equal(pool.sessions('blue').includes(doomed), false);
    for (let i = 0; i < 6; i++) assert.equal(pool.pick('blue')?.connectorId, 'c-one');
  });

  it('closeConnector() cuts every tunnel of a connector at once and tells it why', async function () {
    const { pool } = service;
    await pool.closeConnector('c-one', { code: 'ERR_CONNECTOR_REVOKED', reason: 'revoked' });
    assert.equal(pool.has('blue'), false);
    const infos = await Promise.all(one.servers.map((server) => server.closed));
    for (const info of infos) {
      assert.equal(info.reason, 'refused');
      assert.deepEqual(info.refusal, { code: 'ERR_CONNECTOR_REVOKED', reason: 'revoked' });
    }
  });

  it('drain() closes every tunnel gracefully', async function () {
    const { pool } = service;
    await pool.drain(5_000);
    assert.equal(pool.size, 0);
    assert.equal((await other.servers[0]?.closed)?.reason, 'closed_by_service');
  });
});

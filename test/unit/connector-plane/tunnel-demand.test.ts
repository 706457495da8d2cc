import assert from 'node:assert/strict';
import { MemoryBroadcast } from '../../../src/store/broadcast.ts';
import { TunnelDemand } from '../../../src/connector-plane/tunnel-demand.ts';

interface FakeSession {
  readonly group: string;
  readonly connectorId: string;
  inFlight: number;
  readonly healthy: boolean;
}

/** The service's side of capacity on demand, driven without timers against a pool it can see into. */
describe('TunnelDemand', () => {
  let sessions: FakeSession[];
  let waiting: number;
  /** What the pool says apps held at their share hold and have waiting. */
  let beyond: { held: number; waiting: number };
  let now: number;
  let sent: Array<{ connectorId: string; event: string; data: object }>;
  let connected: Set<string>;

  const demand = (extra: Partial<ConstructorParameters<typeof TunnelDemand>[0]> = {}): TunnelDemand =>
    new TunnelDemand({
      tunnels: {
        sessions: () => sessions as never,
        waiting: () => waiting,
        beyondShares: () => beyond,
      },
      events: { isConnected: (id) => connected.has(id), send: (connectorId, event, data) => sent.push({ connectorId, event, data }) },
      settings: { maxStreams: 2, maxPerConnector: 3, scaleDownAfter: 10 },
      checkIntervalMs: 1_000,
      now: () => now,
      ...extra,
    });

  beforeEach(() => {
    sessions = [{ group: 'g', connectorId: 'c1', inFlight: 0, healthy: true }];
    waiting = 0;
    beyond = { held: 0, waiting: 0 };
    now = 1_000_000;
    sent = [];
    connected = new Set(['c1']);
  });

  it('asks nothing while the group has room', () => {
    const subject = demand();
    sessions[0]!.inFlight = 1;
    subject.check();
    assert.deepEqual(sent, []);
  });

  it('asks for one more tunnel at a time when streams run short, no faster than the raise interval, up to the maximum', () => {
    const subject = demand();
    sessions[0]!.inFlight = 2;
    subject.check();
    assert.deepEqual(sent, [{ connectorId: 'c1', event: 'tunnels', data: { want: 2 } }]);
    now += 500;
    subject.check();
    assert.equal(sent.length, 1, 'not again before the tunnel had its chance to arrive');
    now += 2_000;
    subject.check();
    assert.deepEqual(sent.at(-1)?.data, { want: 3 });
    now += 2_000;
    subject.check();
    assert.equal(sent.length, 2, 'never past maxPerConnector');
  });

  it('counts the queue as demand', () => {
    const subject = demand();
    waiting = 5;
    subject.check();
    assert.deepEqual(sent.at(-1)?.data, { want: 2 });
  });

  it('leaves out an app held at its share: neither its streams nor its waiting requests ask for a tunnel', () => {
    const subject = demand();
    // One of the two streams held by an app at its share, and its crowd waiting: another tunnel would only widen that share.
    sessions[0]!.inFlight = 1;
    waiting = 50;
    beyond = { held: 1, waiting: 50 };
    subject.check();
    assert.deepEqual(sent, []);
    // Both streams held by it: still nothing, however long it lasts.
    sessions[0]!.inFlight = 2;
    beyond = { held: 2, waiting: 50 };
    for (let i = 0; i < 10; i += 1, now += 1_000) subject.check();
    assert.deepEqual(sent, []);
  });

  it('still asks when a request below its share waits for the group, next to an app held at its share', () => {
    const subject = demand();
    sessions[0]!.inFlight = 2;
    waiting = 51;
    beyond = { held: 1, waiting: 50 };
    subject.check();
    assert.deepEqual(sent, [{ connectorId: 'c1', event: 'tunnels', data: { want: 2 } }]);
  });

  it('goes back to what it brought while only an app held at its share is busy', () => {
    const subject = demand();
    sessions[0]!.inFlight = 2;
    subject.check();
    assert.deepEqual(sent.at(-1)?.data, { want: 2 });
    sessions.push({ group: 'g', connectorId: 'c1', inFlight: 1, healthy: true });
    beyond = { held: 3, waiting: 40 };
    waiting = 40;
    subject.check();
    now += 10_000;
    subject.check();
    assert.deepEqual(sent.at(-1)?.data, { want: 1 });
  });

  it('goes back to what the connector brought once the group has been quiet for scaleDownAfter', () => {
    const subject = demand();
    sessions[0]!.inFlight = 2;
    subject.check();
    sessions.push({ group: 'g', connectorId: 'c1', inFlight: 0, healthy: true });
    sessions[0]!.inFlight = 0;
    subject.check();
    now += 9_000;
    subject.check();
    assert.equal(sent.length, 1, 'not before scaleDownAfter');
    now += 1_000;
    subject.check();
    assert.deepEqual(sent.at(-1)?.data, { want: 1 });
  });

  it("names this instance when there are several, and relays through the broadcast when another instance holds the connector's events stream", async () => {
    const broadcast = new MemoryBroadcast();
    const here = demand({ instanceId: () => 'i-1', broadcast });
    const there = demand({
      instanceId: () => 'i-2',
      broadcast,
      events: { isConnected: () => true, send: (connectorId, event, data) => sent.push({ connectorId, event, data }) },
    });
    here.start();
    there.start();
    try {
      connected.clear();
      sessions[0]!.inFlight = 2;
      here.check();
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(sent, [{ connectorId: 'c1', event: 'tunnels', data: { want: 2, instance: 'i-1' } }]);
    } finally {
      here.stop();
      there.stop();
    }
  });
});

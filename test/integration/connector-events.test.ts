import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConnectorEvents, type ConnectorEventMap, type ConnectorEventName } from '../../src/connector/connector-events.ts';
import type { ConnectorLink } from '../../src/connector/link.ts';
import { registerConnector } from '../../src/connector/register.ts';
import { runConnector } from '../../src/connector/supervisor.ts';
import { ConnectorError, isConnectorError } from '../../src/errors/connector-error.ts';
import { createDevCa } from '../../dev/lib/dev-ca.ts';
import { startConnectorService, type ConnectorServiceHarness } from '../support/connector-service.ts';

type Seen = { [K in ConnectorEventName]: { readonly name: K; readonly payload: ConnectorEventMap[K][0] } }[ConnectorEventName];

const EVENT_NAMES: readonly ConnectorEventName[] = [
  'starting',
  'configApplied',
  'configIgnored',
  'configRefused',
  'configPullFailed',
  'groupMoved',
  'renewalDue',
  'renewalNotDue',
  'renewalFailed',
  'certificateRenewed',
  'linkUp',
  'linkDown',
  'linkRestarting',
  'stopped',
];

/** Every event, in order, as the connector emitted it. */
function record(events: ConnectorEvents): Seen[] {
  const seen: Seen[] = [];
  for (const name of EVENT_NAMES) events.on(name, (payload: unknown) => seen.push({ name, payload } as Seen));
  return seen;
}

function payloadsOf<K extends ConnectorEventName>(seen: readonly Seen[], name: K): Array<ConnectorEventMap[K][0]> {
  return seen.filter((event) => event.name === name).map((event) => event.payload as ConnectorEventMap[K][0]);
}

async function waitUntil(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('connector: typed events and one way to stop (real service, in-process connector)', function () {
  this.timeout(60_000);
  let harness: ConnectorServiceHarness;
  let root: string;
  let adminToken: string;
  let count = 0;

  before(async function () {
    harness = await startConnectorService();
    root = mkdtempSync(join(tmpdir(), 'gatehouse-connector-events-'));
    adminToken = await harness.adminToken('alice');
  });

  after(async function () {
    await harness?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  async function register(): Promise<string> {
    count += 1;
    const stateDir = join(root, `state-${count}`);
    await registerConnector({ serviceUrl: harness.serviceUrl, token: adminToken, stateDir, caFile: harness.caFile });
    return stateDir;
  }

  async function registerWithStrangerCertificate(): Promise<string> {
    const stateDir = await register();
    const stranger = createDevCa({ commonName: 'not the connector CA' }).issueServerCertificate(['connector']);
    writeFileSync(join(stateDir, 'connector.key'), stranger.keyPem, { mode: 0o600 });
    writeFileSync(join(stateDir, 'connector.crt'), stranger.certPem, { mode: 0o600 });
    return stateDir;
  }

  it('reports its life as typed events, and the progress lines are written from them', async function () {
    const stateDir = await register();
    const events = new ConnectorEvents();
    const seen = record(events);
    const progress: string[] = [];
    const stop = new AbortController();
    const running = runConnector({
      stateDir,
      events,
      progress: (line) => progress.push(line),
      signal: stop.signal,
      tunnels: 1,
      allow: ['192.168.0.0/16'],
    });
    await waitUntil(() => payloadsOf(seen, 'configApplied').length > 0 && payloadsOf(seen, 'linkUp').length >= 2);
    stop.abort();
    await running;

    assert.equal(seen[0]?.name, 'starting');
    const [starting] = payloadsOf(seen, 'starting');
    assert.deepEqual(starting?.allowList, ['192.168.0.0/16']);
    const [applied] = payloadsOf(seen, 'configApplied');
    assert.ok(applied);
    assert.equal(applied.group, 'default');
    assert.deepEqual(applied.apps, ['wiki']);
    assert.deepEqual(applied.outsideAllowList, [{ appId: 'wiki', target: '10.20.0.5:8080' }]);
    assert.deepEqual(
      payloadsOf(seen, 'linkUp')
        .map((up) => up.link)
        .sort(),
      ['control', 'tunnel-1'],
    );
    assert.deepEqual(payloadsOf(seen, 'stopped'), [{ reason: { kind: 'requested' } }]);
    assert.equal(seen.at(-1)?.name, 'stopped', 'stopped comes last');

    assert.ok(progress.includes(`configuration version ${applied.version} applied: 1 app (wiki) for group default`), progress.join('\n'));
    assert.ok(progress.includes('app wiki: its internal address is outside the allow-list; requests to it will be refused'));
    assert.ok(progress.includes('control link connected'));
    assert.ok(progress.includes('tunnel-1 link connected'));
    assert.equal(events.listenerCount('linkUp'), 1, 'the log listener is removed when the connector stops');
  });

  it('stops once, with the first refusal, when two links hear one at the same moment', async function () {
    const stateDir = await registerWithStrangerCertificate();
    const first = new ConnectorError('ERR_CONNECTOR_REVOKED', 'first link: revoked', { retryable: false, reason: 'revoked' });
    const second = new ConnectorError('ERR_CERT_REFUSED', 'second link: refused', { retryable: false, reason: 'other_ca' });
    const refusing = (name: string, error: ConnectorError): ConnectorLink => ({
      name,
      run: () => Promise.reject(error),
    });
    const events = new ConnectorEvents();
    const seen = record(events);
    const progress: string[] = [];
    const outcome = await runConnector({
      stateDir,
      events,
      progress: (line) => progress.push(line),
      tunnels: 1,
      links: [refusing('first', first), refusing('second', second)],
    }).then(
      () => assert.fail('the connector should have stopped with an error'),
      (error: unknown) => error,
    );

    assert.equal(outcome, first, 'runConnector rejects with the first refusal');
    assert.deepEqual(payloadsOf(seen, 'stopped'), [{ reason: { kind: 'refused', error: first } }]);
    assert.deepEqual(payloadsOf(seen, 'linkDown'), [], 'a refusal is never a link down');
    assert.ok(!progress.some((line) => /link down/.test(line)), progress.join('\n'));
  });

  it('a refused certificate stops it with one error whichever link hears it first (10 runs)', async function () {
    const stateDir = await registerWithStrangerCertificate();
    for (let run = 0; run < 10; run++) {
      const events = new ConnectorEvents();
      const seen = record(events);
      const error = await runConnector({ stateDir, events, tunnels: 2 }).then(
        () => assert.fail('the connector should have stopped with an error'),
        (failure: unknown) => failure,
      );
      assert.ok(isConnectorError(error), String(error));
      assert.equal(error.code, 'ERR_CERT_REFUSED');
      assert.match(
        error.message,
        /^The service refused this connector's certificate: it was not issued by this service's connector CA \(other_ca\)\. Register the connector again: gatehouse-connector register --service https:\/\/127\.0\.0\.1:\d+ --force$/,
      );
      const stopped = payloadsOf(seen, 'stopped');
      assert.equal(stopped.length, 1, `run ${run}: one stop`);
      assert.deepEqual(stopped[0]?.reason, { kind: 'refused', error });
    }
  });
});

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { registerConnector } from '../../../src/connector/register.ts';
import { runConnector } from '../../../src/connector/supervisor.ts';
import type { GatewayConfigInput } from '../../../src/config/schema.ts';
import { createMetricsRegistry } from '../../../src/metrics/registry.ts';
import { toLoopback } from '../../support/loopback.ts';
import { signIn, startStack, type Stack } from '../../support/stack.ts';
import { Scrape } from './scrape.ts';

/** wiki: staff only (mallory is refused at sign-in), and nobody reaches /hr/ (refused per request). */
function withPolicies(config: GatewayConfigInput): GatewayConfigInput {
  return {
    ...config,
    apps: (config.apps ?? []).map((app) =>
      app.id === 'wiki'
        ? {
            ...app,
            policies: [
              { name: 'staff only', conditions: { users: { include: ['*'] }, groups: { exclude: ['staff'] } }, grant: { block: true } },
              { name: 'no hr', conditions: { paths: ['/hr/'] }, grant: { block: true } },
            ],
          }
        : app,
    ),
  };
}

async function waitUntil(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('metrics: a scrape of the gateway and of a real connector after traffic', function () {
  this.timeout(90_000);
  let stack: Stack;
  let dir: string;
  let stateDir: string;
  const connectorRegistry = createMetricsRegistry();
  const stop = new AbortController();
  let running: Promise<void> | undefined;
  let connectorId: string;

  const gateway = (): Promise<Scrape> => Scrape.of(stack.gateway.metrics, 'gatehouse_');
  /**
   * A request is counted when its response closes on the server, which over TLS can come a turn of the event loop
   * after the client (in this same process) has read the answer: scrape once the count has stopped moving.
   */
  const settled = async (): Promise<Scrape> => {
    let previous = await gateway();
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 30));
      const next = await gateway();
      if (next.sum('gatehouse_requests_total') === previous.sum('gatehouse_requests_total')) return next;
      previous = next;
    }
  };
  const connector = (): Promise<Scrape> => Scrape.of(connectorRegistry, 'gatehouse_connector_');

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-metrics-'));
    stack = await startStack({ connectors: true, configure: withPolicies });
    stateDir = join(dir, 'connector');
    const registered = await registerConnector({ serviceUrl: stack.connectorUrl, token: await stack.adminToken(), stateDir, caFile: stack.connectorCaFile });
    connectorId = registered.connectorId;
    running = runConnector({ stateDir, metrics: connectorRegistry, signal: stop.signal, tunnels: 2 });
    running.catch(() => undefined);
    await waitUntil(async () => (await gateway()).sum('gatehouse_tunnels_online', { connector_group: 'default' }) === 2, 'two tunnels online');
  });
  after(async () => {
    stop.abort();
    await running?.catch(() => undefined);
    await stack?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('counts sign-ins, sessions, policy decisions, requests by step and status, and times them', async () => {
    const before = await settled();
    const alice = stack.browser();
    const signedIn = await signIn(stack, alice, 'alice');
    assert.equal(signedIn.response.status, 200);
    const afterSignIn = await settled();
    assert.equal(afterSignIn.since(before, 'gatehouse_signins_total', { app: 'wiki', outcome: 'success', code: 'none' }), 1);
    assert.equal(afterSignIn.since(before, 'gatehouse_sessions_issued_total', { app: 'wiki' }), 1);
    assert.equal(
      afterSignIn.since(before, 'gatehouse_policy_decisions_total', { app: 'wiki', result: 'allow', reason: 'none' }),
      2,
      'at sign-in, and the page it returned to',
    );
    assert.equal(afterSignIn.since(before, 'gatehouse_store_operation_duration_seconds_count', { operation: 'consume_state' }), 1);
    assert.equal(afterSignIn.since(before, 'gatehouse_store_operation_duration_seconds_count', { operation: 'put_side_data' }), 1);

    // Forwarded through the connector's tunnels.
    const forwarded = 7;
    for (let index = 0; index < forwarded; index++) {
      const response = await alice.request(`${stack.urls.wiki}/page-${index}`, { headers: { accept: 'application/json' } });
      assert.equal(response.status, 200);
      await response.text();
    }
    const afterForwarding = await settled();
    const delta = (name: string, labels: Record<string, string> = {}): number => afterForwarding.since(afterSignIn, name, labels);
    assert.equal(delta('gatehouse_requests_total', { app: 'wiki', step: 'upstream', status_class: '2xx' }), forwarded);
    assert.equal(delta('gatehouse_requests_total'), forwarded, 'nothing else was counted');
    assert.equal(delta('gatehouse_request_duration_seconds_count', { app: 'wiki' }), forwarded);
    assert.equal(delta('gatehouse_tunnel_response_seconds_count', { app: 'wiki' }), forwarded);
    assert.ok(delta('gatehouse_tunnel_response_seconds_sum', { app: 'wiki' }) <= delta('gatehouse_request_duration_seconds_sum', { app: 'wiki' }));
    assert.equal(delta('gatehouse_policy_decisions_total', { app: 'wiki', result: 'allow' }), forwarded);
    // One per request, for three keys at once: the session's own id, the identity provider's session it belongs to, and its user
    // (back-channel logout by sid or by sub).
    assert.equal(delta('gatehouse_store_operation_duration_seconds_count', { operation: 'is_revoked' }), forwarded);
    assert.ok(delta('gatehouse_tunnel_bytes_total', { connector_group: 'default', direction: 'sent' }) > 0);
    assert.ok(delta('gatehouse_tunnel_bytes_total', { connector_group: 'default', direction: 'received' }) > forwarded * 100);

    // A 401 (no session, not a navigation) and a policy denial per request.
    const stranger = stack.browser();
    assert.equal((await stranger.request(`${stack.urls.wiki}/private`, { headers: { accept: 'application/json' } })).status, 401);
    assert.equal((await alice.request(`${stack.urls.wiki}/hr/salaries`, { headers: { accept: 'application/json' } })).status, 403);
    const afterRefusals = await settled();
    assert.equal(afterRefusals.since(afterForwarding, 'gatehouse_requests_total', { app: 'wiki', status_class: '4xx' }), 2);
    assert.equal(afterRefusals.since(afterForwarding, 'gatehouse_requests_total', { app: 'wiki', step: 'session-gate', status_class: '4xx' }), 1);
    assert.equal(afterRefusals.since(afterForwarding, 'gatehouse_requests_total', { app: 'wiki', step: 'conditional-access', status_class: '4xx' }), 1);
    assert.equal(afterRefusals.since(afterForwarding, 'gatehouse_requests_total', { app: 'wiki', status_class: '2xx' }), 0);
    assert.equal(afterRefusals.since(afterForwarding, 'gatehouse_policy_decisions_total', { app: 'wiki', result: 'deny', reason: 'grant.block' }), 1);
    assert.equal(afterRefusals.since(afterForwarding, 'gatehouse_tunnel_response_seconds_count'), 0, 'neither reached the tunnel');

    // Refused at sign-in by policy: a denied sign-in, no session.
    const mallory = stack.browser();
    assert.equal((await signIn(stack, mallory, 'mallory')).response.status, 403);
    const afterDenial = await settled();
    assert.equal(afterDenial.since(afterRefusals, 'gatehouse_signins_total', { app: 'wiki', outcome: 'denied', code: 'ERR_POLICY_DENIED' }), 1);
    assert.equal(afterDenial.since(afterRefusals, 'gatehouse_signins_total', { outcome: 'success' }), 0);
    assert.equal(afterDenial.since(afterRefusals, 'gatehouse_sessions_issued_total'), 0);
    assert.equal(afterDenial.since(afterRefusals, 'gatehouse_policy_decisions_total', { app: 'wiki', result: 'deny', reason: 'grant.block' }), 1);

    // A callback without its attempt: a failed sign-in.
    assert.equal(
      (await stranger.request(`${stack.urls.wiki}/.gatehouse/callback?state=forged&code=x`, { headers: { accept: 'application/json' } })).status,
      400,
    );
    const afterFailure = await settled();
    assert.equal(afterFailure.since(afterDenial, 'gatehouse_signins_total', { app: 'wiki', outcome: 'failure', code: 'ERR_SIGNIN_STATE' }), 1);
    assert.equal(afterFailure.since(afterDenial, 'gatehouse_requests_total', { app: 'wiki', step: 'signin', status_class: '4xx' }), 1);

    // Logout revokes the session.
    await alice.navigate(`${stack.urls.wiki}/.gatehouse/logout`, { stopAt: (url) => url.origin === stack.idp.issuer });
    const afterLogout = await settled();
    assert.equal(afterLogout.since(afterFailure, 'gatehouse_sessions_revoked_total', { app: 'wiki' }), 1);
    assert.equal(afterLogout.since(afterFailure, 'gatehouse_store_operation_duration_seconds_count', { operation: 'revoke' }), 1);
    assert.equal(afterLogout.sum('gatehouse_store_errors_total'), 0);
  });

  it('counts WebSocket upgrades, refused and forwarded', async () => {
    const before = await gateway();
    const url = `${stack.urls.wiki.replace('https', 'wss')}/ws`;
    const refused = new WebSocket(url, { ca: stack.ca.certPem, lookup: toLoopback, headers: { origin: stack.urls.wiki } });
    refused.on('error', () => undefined);
    await once(refused, 'unexpected-response');
    const bob = stack.browser();
    await signIn(stack, bob, 'bob');
    const cookie = await bob.jar.getCookieString(`${stack.urls.wiki}/`);
    const socket = new WebSocket(url, { ca: stack.ca.certPem, lookup: toLoopback, headers: { cookie, origin: stack.urls.wiki } });
    await once(socket, 'message');
    socket.close();
    await once(socket, 'close');
    const after = await settled();
    assert.equal(after.since(before, 'gatehouse_websocket_upgrades_total', { app: 'wiki', outcome: 'refused' }), 1);
    assert.equal(after.since(before, 'gatehouse_websocket_upgrades_total', { app: 'wiki', outcome: 'forwarded' }), 1);
  });

  it('reports tunnels, connectors, certificate expiry and the audit queue per group, read at scrape time', async () => {
    const scrape = await gateway();
    assert.equal(scrape.sum('gatehouse_tunnels_online', { connector_group: 'default' }), 2);
    assert.equal(scrape.sum('gatehouse_connectors_online', { connector_group: 'default' }), 1);
    assert.ok(scrape.has('gatehouse_tunnel_streams_in_flight'));
    assert.equal(scrape.sum('gatehouse_tunnel_stream_window_bytes', { connector_group: 'default' }), 8 * 1024 * 1024, 'few streams in use: the largest window');
    const notAfter = new X509Certificate(readFileSync(join(stateDir, 'connector.crt'))).validTo;
    assert.equal(
      scrape.sum('gatehouse_connector_certificate_expiry_timestamp_seconds', { connector: connectorId, connector_group: 'default' }),
      Math.floor(Date.parse(notAfter) / 1000),
    );
    assert.equal(scrape.sum('gatehouse_audit_outbox_events'), 0);
    assert.ok(scrape.has('gatehouse_process_cpu_user_seconds_total'), 'Node process metrics are in the scrape');
    assert.ok(scrape.has('gatehouse_nodejs_eventloop_lag_seconds'));
  });

  it("counts the connector's links, streams, origin errors, bytes and certificate expiry", async () => {
    const before = await connector();
    assert.equal(before.sum('gatehouse_connector_links_up', { link: 'control' }), 1);
    assert.equal(before.sum('gatehouse_connector_links_up', { link: 'tunnel' }), 2);
    assert.ok(before.sum('gatehouse_connector_streams_total') >= 1);
    assert.ok(before.sum('gatehouse_connector_origin_bytes_total', { direction: 'received' }) > 0);
    assert.ok(before.sum('gatehouse_connector_origin_bytes_total', { direction: 'sent' }) > 0);
    const notAfter = new X509Certificate(readFileSync(join(stateDir, 'connector.crt'))).validTo;
    assert.equal(
      before.sum('gatehouse_connector_certificate_expiry_timestamp_seconds', { connector: connectorId, connector_group: 'default' }),
      Math.floor(Date.parse(notAfter) / 1000),
    );
    assert.ok(before.has('gatehouse_connector_process_cpu_user_seconds_total'));

    // An app whose internal address refuses connections: the connector says so, once per request.
    const response = await stack.browser().request(`${stack.urls.dead}/`, { headers: { accept: 'application/json' } });
    assert.equal(response.status, 502);
    const after = await connector();
    assert.equal(after.since(before, 'gatehouse_connector_origin_errors_total', { code: 'origin_refused' }), 1);
    assert.equal(after.since(before, 'gatehouse_connector_streams_refused_total', { reason: 'origin_refused' }), 1);

    // A download through the tunnel moves the byte counters on both sides by at least its size.
    const gatewayBefore = await gateway();
    const size = 256 * 1024;
    const download = await stack.browser().request(`${stack.urls.open}/download?bytes=${size}`);
    assert.equal(download.status, 200);
    assert.equal(download.headers.get('content-length'), String(size));
    await download.text();
    const gatewayAfter = await gateway();
    assert.ok(gatewayAfter.since(gatewayBefore, 'gatehouse_tunnel_bytes_total', { direction: 'received' }) >= size);
    const connectorAfter = await connector();
    assert.ok(connectorAfter.since(after, 'gatehouse_connector_origin_bytes_total', { direction: 'received' }) >= size);
  });

  it('reports the links down once the connector stopped', async () => {
    stop.abort();
    await running;
    const scrape = await connector();
    assert.equal(scrape.sum('gatehouse_connector_links_up'), 0);
    await waitUntil(async () => (await gateway()).sum('gatehouse_connectors_online', { connector_group: 'default' }) === 0, 'the connector offline');
    const gatewayScrape = await gateway();
    assert.equal(gatewayScrape.sum('gatehouse_tunnels_online', { connector_group: 'default' }), 0);
    assert.ok(gatewayScrape.sum('gatehouse_tunnel_bytes_total', { direction: 'received' }) > 0, 'the bytes of closed tunnels are kept');
  });
});

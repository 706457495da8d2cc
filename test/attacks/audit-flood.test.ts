import assert from 'node:assert/strict';
import { connect } from 'node:tls';
import type { AuditEvent } from '../../src/audit/events.ts';
import { AUDIT_REPEAT_WINDOW_MS, AUDIT_REPEATS_PER_WINDOW } from '../../src/limits.ts';
import { REGISTER_PATH } from '../../src/protocol/connector-api.ts';
import { adminRecentEvents } from '../support/admin-events.ts';
import { signIn, startStack, type Stack } from '../support/stack.ts';

/** Small enough that a flood of FLOOD events, written one by one, would push everything else out. */
const RECENT_CAPACITY = 1_000;
const FLOOD = 3_000;
const PER_SOCKET = 100;

interface Target {
  readonly port: number;
  readonly ca: string;
  readonly servername: string;
}

/**
 * Sends `requests` (raw HTTP/1.1, the last one closing) pipelined on one TLS
 * connection; resolves with how many answers had `status`.
 */
function pipelined(target: Target, requests: readonly string[], status: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: target.port, servername: target.servername, ca: target.ca });
    let text = '';
    socket.on('secureConnect', () => socket.write(requests.join('')));
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => resolve(text.split(`HTTP/1.1 ${status} `).length - 1));
  });
}

/** FLOOD requests made by `build(index, last)`, PER_SOCKET to a connection, all connections at once; resolves with how many answered `status`. */
async function flood(target: Target, status: number, build: (index: number, last: boolean) => string): Promise<number> {
  const batches = Array.from({ length: FLOOD / PER_SOCKET }, (_, batch) =>
    Array.from({ length: PER_SOCKET }, (_, offset) => build(batch * PER_SOCKET + offset, offset === PER_SOCKET - 1)),
  );
  const answered = await Promise.all(batches.map((requests) => pipelined(target, requests, status)));
  return answered.reduce((sum, count) => sum + count, 0);
}

describe('attack: flooding the audit trail with anonymous events of every kind', function () {
  this.timeout(120_000);
  let stack: Stack;
  let adminToken: string;
  let gateway: (host: string) => Target;
  let connectorListener: Target;

  before(async () => {
    stack = await startStack({
      connectors: true,
      configure: (config) => ({
        ...config,
        // The loopback peer is a proxy, so a test can speak for clients anywhere.
        trustedProxies: ['127.0.0.1/32'],
        audit: { ...config.audit, recent: { capacity: RECENT_CAPACITY } },
      }),
    });
    adminToken = await stack.adminToken('alice');
    gateway = (host) => ({ port: stack.port, ca: stack.ca.certPem, servername: host });
    connectorListener = { port: Number(new URL(stack.connectorUrl).port), ca: stack.gateway.connectors!.ca.certPem, servername: 'localhost' };
  });
  after(async () => {
    await stack.close();
  });

  /** Signs bob in; the id of his `signin.succeeded` event. */
  async function signInBob(): Promise<string> {
    const before = stack.audit.ofType('signin.succeeded').length;
    await signIn(stack, stack.browser(), 'bob');
    const event = stack.audit
      .ofType('signin.succeeded')
      .slice(before)
      .find((candidate) => candidate.user?.sub === 'user-bob');
    assert.ok(event, 'bob signed in');
    return event.id;
  }

  const recent = (type: string): Promise<AuditEvent[]> => adminRecentEvents(stack, adminToken, type);

  /** Moves past the window, then one more event of the key closes it: its summary. */
  async function summaryAfter(trigger: () => Promise<unknown>, matches: (event: AuditEvent) => boolean): Promise<AuditEvent> {
    stack.clock.advance(AUDIT_REPEAT_WINDOW_MS);
    await trigger();
    const summaries = stack.audit.ofType('audit.suppressed').filter(matches);
    assert.equal(summaries.length, 1, 'one summary for the flood');
    return summaries[0]!;
  }

  it(`${FLOOD} anonymous sign-in starts from one address are counted, and a real sign-in stays in the recent events`, async () => {
    const bob = await signInBob();
    const host = new URL(stack.urls.wiki).host;
    const start = (_index: number, last: boolean): string =>
      `GET /.gatehouse/signin?rd=%2F HTTP/1.1\r\nHost: ${host}\r\n${last ? 'Connection: close\r\n' : ''}\r\n`;
    assert.equal(await flood(gateway(host.split(':')[0]!), 302, start), FLOOD, 'every start was sent on to the provider');

    assert.ok(
      (await recent('signin.succeeded')).some((event) => event.id === bob),
      "bob's sign-in is still in the recent events",
    );
    const written = stack.audit.ofType('signin.started').filter((event) => event.app === 'wiki' && event.clientIp === '127.0.0.1');
    assert.ok(written.length <= AUDIT_REPEATS_PER_WINDOW + 1, `${written.length} starts written one by one`);

    const summary = await summaryAfter(
      () => pipelined(gateway(host.split(':')[0]!), [start(0, true)], 302),
      (event) => event.details?.['type'] === 'signin.started',
    );
    assert.equal(summary.app, 'wiki');
    assert.equal(summary.clientIp, '127.0.0.1');
    // bob's own start opened the window; the flood filled it.
    assert.equal(summary.details?.['seen'], FLOOD + 1);
    assert.equal(summary.details?.['suppressed'], FLOOD + 1 - AUDIT_REPEATS_PER_WINDOW);
  });

  it(`${FLOOD} tokenless queries of the admin events API are counted, and a real sign-in stays in the recent events`, async () => {
    const bob = await signInBob();
    const query = (_index: number, last: boolean): string =>
      `GET /.gatehouse/admin/events HTTP/1.1\r\nHost: localhost\r\n${last ? 'Connection: close\r\n' : ''}\r\n`;
    assert.equal(await flood(connectorListener, 401, query), FLOOD, 'every query was refused with 401');

    assert.ok(
      (await recent('signin.succeeded')).some((event) => event.id === bob),
      "bob's sign-in is still in the recent events",
    );
    const refused = stack.audit.ofType('admin.events_queried').filter((event) => event.outcome === 'failure' && event.reason === 'missing');
    assert.ok(refused.length <= AUDIT_REPEATS_PER_WINDOW, `${refused.length} refusals written one by one`);

    const summary = await summaryAfter(
      () => pipelined(connectorListener, [query(0, true)], 401),
      (event) => event.details?.['type'] === 'admin.events_queried',
    );
    assert.equal(summary.code, 'ERR_ADMIN_TOKEN_MISSING');
    assert.equal(summary.details?.['suppressed'], FLOOD - AUDIT_REPEATS_PER_WINDOW);
  });

  it(`${FLOOD} refused requests from as many addresses of one IPv6 /64 count as one source`, async () => {
    const bob = await signInBob();
    const host = new URL(stack.urls.open).host;
    const refused = (index: number, last: boolean): string =>
      `GET /x#${index} HTTP/1.1\r\nHost: ${host}\r\nX-Forwarded-For: 2001:db8:7:7::${index.toString(16)}\r\nAccept: application/json\r\n${last ? 'Connection: close\r\n' : ''}\r\n`;
    assert.equal(await flood(gateway(host.split(':')[0]!), 400, refused), FLOOD, 'every request was refused with 400');

    assert.ok(
      (await recent('signin.succeeded')).some((event) => event.id === bob),
      "bob's sign-in is still in the recent events",
    );
    const written = stack.audit.ofType('request.rejected').filter((event) => event.clientIp?.startsWith('2001:db8:7:7:') === true);
    assert.ok(written.length > 0, 'the refusals name their client');
    assert.ok(written.length <= AUDIT_REPEATS_PER_WINDOW, `${written.length} refusals written one by one`);

    const summary = await summaryAfter(
      () => pipelined(gateway(host.split(':')[0]!), [refused(FLOOD, true)], 400),
      (event) => event.details?.['network'] === '2001:db8:7:7:0:0:0:0/64',
    );
    assert.equal(summary.reason, 'request_target_fragment');
    assert.equal(summary.details?.['suppressed'], FLOOD - AUDIT_REPEATS_PER_WINDOW);
  });

  it("an administrator's refused registrations are all written, however many", async () => {
    const attempts = AUDIT_REPEATS_PER_WINDOW * 2;
    const before = stack.audit.ofType('connector.refused').length;
    const body = JSON.stringify({ group: 'wiki' });
    const register = (_index: number, last: boolean): string =>
      `POST ${REGISTER_PATH} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${adminToken}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n${last ? 'Connection: close\r\n' : ''}\r\n${body}`;
    const requests = Array.from({ length: attempts }, (_, index) => register(index, index === attempts - 1));
    assert.equal(await pipelined(connectorListener, requests, 400), attempts, 'every registration was refused with 400');

    const refused = stack.audit.ofType('connector.refused').slice(before);
    assert.equal(refused.length, attempts);
    assert.ok(refused.every((event) => event.reason === 'invalid_body' && event.details?.['admin'] === 'user-alice'));
  });
});

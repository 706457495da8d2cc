import assert from 'node:assert/strict';
import { connect } from 'node:tls';
import { AUDIT_RECENT_EVENTS_CAPACITY, AUDIT_REPEATS_PER_WINDOW } from '../../src/limits.ts';
import { adminRecentEvents } from '../support/admin-events.ts';
import { signIn, startStack, type Stack } from '../support/stack.ts';

/** Twice what the recent-events store keeps at its default size: written one by one, they would push everything else out. */
const FLOOD = 2 * AUDIT_RECENT_EVENTS_CAPACITY;
const PER_SOCKET = 100;

/** `count` pipelined requests on one TLS connection, the last closing it; resolves with how many answers came back. */
function pipelined(stack: Stack, host: string, count: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: stack.port, servername: host.split(':')[0], ca: stack.ca.certPem });
    let text = '';
    socket.on('secureConnect', () => {
      let requests = '';
      for (let index = 0; index < count; index += 1) {
        // A fragment in the request target: refused with 400 before anything else looks at the request.
        requests += `GET /flood#${index} HTTP/1.1\r\nHost: ${host}\r\nAccept: application/json\r\n${index === count - 1 ? 'Connection: close\r\n' : ''}\r\n`;
      }
      socket.write(requests);
    });
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => resolve(text.split('HTTP/1.1 400 ').length - 1));
  });
}

describe('attack: flooding the audit trail with anonymous refusals', function () {
  this.timeout(120_000);
  let stack: Stack;

  before(async () => {
    // The recent-events store at its default capacity, as a deployment has it.
    stack = await startStack({ connectors: true });
  });
  after(async () => {
    await stack.close();
  });

  it(`${FLOOD} refused requests from one address neither push a real sign-in out of the recent events nor vanish uncounted`, async () => {
    await signIn(stack, stack.browser(), 'bob');
    const host = new URL(stack.urls.open).host;
    const answered = await Promise.all(Array.from({ length: FLOOD / PER_SOCKET }, () => pipelined(stack, host, PER_SOCKET)));
    assert.equal(
      answered.reduce((sum, count) => sum + count, 0),
      FLOOD,
      'every flood request was refused with 400',
    );

    const token = await stack.adminToken('alice');
    const signIns = await adminRecentEvents(stack, token, 'signin.succeeded', 100);
    assert.ok(
      signIns.some((event) => event.user?.sub === 'user-bob'),
      "bob's sign-in is still in the recent events the admin API serves",
    );
    const written = stack.audit.ofType('request.rejected').filter((event) => event.reason === 'request_target_fragment').length;
    assert.equal(written, AUDIT_REPEATS_PER_WINDOW, 'the first refusals of the window are written one by one');

    // The count is not lost: closing the log (as a stop does) summarises what was held back.
    await stack.gateway.audit.close();
    const summaries = stack.audit.ofType('audit.suppressed').filter((event) => event.reason === 'request_target_fragment');
    const suppressed = summaries.reduce((sum, event) => sum + Number(event.details?.['suppressed'] ?? 0), 0);
    assert.equal(summaries.length, 1, 'one summary for the flood');
    assert.equal(suppressed, FLOOD - AUDIT_REPEATS_PER_WINDOW);
    assert.equal(summaries[0]?.details?.['seen'], FLOOD);
    assert.equal(summaries[0]?.clientIp, '127.0.0.1');
  });
});

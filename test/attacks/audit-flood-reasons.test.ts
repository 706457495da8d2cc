import assert from 'node:assert/strict';
import { connect } from 'node:tls';
import type { AuditEvent } from '../../src/audit/events.ts';
import { AUDIT_REPEAT_REASONS_PER_SOURCE, AUDIT_REPEAT_WINDOW_MS, AUDIT_REPEATS_PER_WINDOW } from '../../src/limits.ts';
import { adminRecentEvents } from '../support/admin-events.ts';
import { signIn, startStack, type Stack } from '../support/stack.ts';

/** Small enough that FLOOD events written one by one would push everything else out. */
const RECENT_CAPACITY = 1_000;
const FLOOD = 2_000;
const PER_SOCKET = 100;

interface Answer {
  readonly status: number;
  readonly headers: ReadonlyMap<string, readonly string[]>;
}

/** Reads pipelined HTTP/1.1 answers (each with a Content-Length, as the gateway's are) from raw text. */
function parseAnswers(text: string): Answer[] {
  const answers: Answer[] = [];
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const [statusLine = '', ...lines] = text.slice(at, end).split('\r\n');
    const headers = new Map<string, string[]>();
    for (const line of lines) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).toLowerCase();
      headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
    }
    answers.push({ status: Number(statusLine.split(' ')[1]), headers });
    at = end + 4 + Number(headers.get('content-length')?.[0] ?? 0);
  }
  return answers;
}

/** Sends raw requests pipelined on one TLS connection (the last one closes it); resolves with the answers. */
function pipelined(stack: Stack, servername: string, requests: readonly string[]): Promise<Answer[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: stack.port, servername, ca: stack.ca.certPem });
    const chunks: Buffer[] = [];
    socket.on('secureConnect', () => socket.write(requests.join('')));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(parseAnswers(Buffer.concat(chunks).toString('latin1'))));
  });
}

/** `count` requests made by `build`, PER_SOCKET to a connection, all connections at once. */
async function flood(stack: Stack, host: string, count: number, build: (index: number, last: boolean) => string): Promise<Answer[]> {
  const batches = Array.from({ length: Math.ceil(count / PER_SOCKET) }, (_, batch) =>
    Array.from({ length: Math.min(PER_SOCKET, count - batch * PER_SOCKET) }, (_, offset) =>
      build(batch * PER_SOCKET + offset, offset === Math.min(PER_SOCKET, count - batch * PER_SOCKET) - 1),
    ),
  );
  return (await Promise.all(batches.map((requests) => pipelined(stack, host.split(':')[0]!, requests)))).flat();
}

describe('attack: flooding the audit trail with anonymous failures whose reason the attacker chooses', function () {
  this.timeout(120_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack({
      connectors: true,
      configure: (config) => ({ ...config, audit: { ...config.audit, recent: { capacity: RECENT_CAPACITY } } }),
    });
  });
  after(async () => {
    await stack.close();
  });

  const recent = async (type: string): Promise<AuditEvent[]> => adminRecentEvents(stack, await stack.adminToken('alice'), type);

  it(`${FLOOD} sign-in callbacks each with its own error name neither push a real sign-in out nor go uncounted`, async () => {
    const before = stack.audit.ofType('signin.succeeded').length;
    await signIn(stack, stack.browser(), 'bob');
    const bob = stack.audit
      .ofType('signin.succeeded')
      .slice(before)
      .find((event) => event.user?.sub === 'user-bob');
    assert.ok(bob, 'bob signed in');

    // Each callback needs an attempt of its own (a state is used once): start them all, keep each one's cookie and state.
    const host = new URL(stack.urls.wiki).host;
    const starts = await flood(
      stack,
      host,
      FLOOD,
      (_index, last) => `GET /.gatehouse/signin?rd=%2F HTTP/1.1\r\nHost: ${host}\r\n${last ? 'Connection: close\r\n' : ''}\r\n`,
    );
    const attempts = starts.map((answer) => {
      const state = new URL(answer.headers.get('location')?.[0] ?? 'x:/').searchParams.get('state');
      const cookie = answer.headers.get('set-cookie')?.find((line) => line.includes('=') && !/max-age=0|expires=thu, 01 jan 1970/i.test(line));
      assert.ok(state && cookie, 'each start answers a state and its attempt cookie');
      return { state, cookie: cookie.split(';')[0]! };
    });
    assert.equal(attempts.length, FLOOD);

    // The provider's `error` parameter is the attacker's to choose: a new one with every callback.
    const callbacks = await flood(
      stack,
      host,
      FLOOD,
      (index, last) =>
        `GET /.gatehouse/callback?state=${encodeURIComponent(attempts[index]!.state)}&error=flood${index} HTTP/1.1\r\nHost: ${host}\r\n` +
        `Cookie: ${attempts[index]!.cookie}\r\nAccept: application/json\r\n${last ? 'Connection: close\r\n' : ''}\r\n`,
    );
    assert.equal(callbacks.length, FLOOD);
    assert.ok(
      callbacks.every((answer) => answer.status >= 400),
      'every callback was refused',
    );

    assert.ok(
      (await recent('signin.succeeded')).some((event) => event.id === bob.id),
      "bob's sign-in is still in the recent events",
    );
    const isFlood = (event: AuditEvent): boolean => event.reason?.startsWith('authorization:flood') === true;
    const written = stack.audit.ofType('signin.failed').filter(isFlood).length;
    const bound = (AUDIT_REPEAT_REASONS_PER_SOURCE + 1) * AUDIT_REPEATS_PER_WINDOW;
    assert.ok(written <= bound, `${written} failures written one by one (at most ${bound})`);

    // The window closes: whatever was held back is counted, under the kept reasons or all other reasons together.
    stack.clock.advance(AUDIT_REPEAT_WINDOW_MS);
    await stack.gateway.audit.close();
    const summaries = stack.audit.ofType('audit.suppressed').filter((event) => event.details?.['type'] === 'signin.failed');
    const suppressed = summaries.reduce((sum, event) => sum + Number(event.details?.['suppressed'] ?? 0), 0);
    assert.equal(suppressed + written, FLOOD, 'every failure is written or counted');
    const other = summaries.find((event) => event.details?.['otherReasons'] === true);
    assert.ok(other, 'the reasons beyond the bound were counted together');
    assert.equal(other.clientIp, '127.0.0.1');
    assert.equal(other.reason, undefined, 'no single reason stands for the others');
  });
});

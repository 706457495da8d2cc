import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GatehouseConfigError } from '../../../src/errors/index.ts';
import type { DropReport } from '../../../src/audit/drop-counter.ts';
import type { AuditEvent } from '../../../src/audit/events.ts';
import type { WebhookFailure } from '../../../src/audit/webhook-options.ts';
import { webhookSink, type WebhookSink } from '../../../src/audit/webhook-sink.ts';

/** What the receiver answers to the n-th POST (0-based): a status, a status with headers, or no answer at all. */
type Answer = number | { status: number; headers: Record<string, string> } | 'hang';

interface Post {
  readonly at: number;
  readonly status: number | 'hang';
  readonly headers: IncomingHttpHeaders;
  readonly events: AuditEvent[];
}

/** A real HTTP receiver on 127.0.0.1:0 that answers POSTs as `plan` says. */
async function startReceiver(plan: (attempt: number) => Answer, port = 0) {
  const posts: Post[] = [];
  const hanging: ServerResponse[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const answer = plan(posts.length);
      const events = JSON.parse(Buffer.concat(chunks).toString('utf8')) as AuditEvent[];
      posts.push({ at: performance.now(), status: typeof answer === 'object' ? answer.status : answer, headers: req.headers, events });
      if (answer === 'hang') {
        hanging.push(res);
        return;
      }
      const { status, headers } = typeof answer === 'number' ? { status: answer, headers: {} } : answer;
      res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(status < 300 ? 'ok' : 'not now');
    });
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const { port: bound } = server.address() as AddressInfo;
  return {
    port: bound,
    url: `http://127.0.0.1:${bound}/ingest`,
    posts,
    /** Events of the POSTs answered 2xx, in arrival order. */
    delivered: () => posts.filter((post) => typeof post.status === 'number' && post.status < 300).flatMap((post) => post.events),
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

type Receiver = Awaited<ReturnType<typeof startReceiver>>;

const BASE = Date.UTC(2025, 0, 31, 8);
const event = (n: number): AuditEvent =>
  Object.freeze({
    id: `e${n}`,
    time: new Date(BASE + n * 1000).toISOString(),
    type: 'signin.failed',
    outcome: 'failure',
    reason: 'test',
    clientIp: '192.0.2.1',
  });
const ids = (events: readonly AuditEvent[]) => events.map((item) => item.id);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, index) => `e${from + index}`);

async function waitFor(what: string, predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('audit webhook sink', function () {
  let receiver: Receiver | undefined;
  let sink: WebhookSink | undefined;

  afterEach(async function () {
    await sink?.close(100);
    await receiver?.close();
    sink = receiver = undefined;
  });

  it('delivers every event, in order and in batches, through a receiver that fails at first, backing off between retries', async function () {
    receiver = await startReceiver((attempt) => (attempt < 3 ? 500 : 200));
    const failures: WebhookFailure[] = [];
    sink = webhookSink({
      url: receiver.url,
      headers: { authorization: 'Bearer siem-token' },
      batchSize: 10,
      flushIntervalMs: 20,
      retryBaseMs: 20,
      retryCapMs: 1000,
      random: () => 1, // the top of each jitter range: waits of exactly 20, 40, 80 ms
      onError: (failure) => failures.push(failure),
    });
    for (let n = 0; n < 35; n += 1) sink.write(event(n));
    assert.equal(await sink.flush(5000), true);

    assert.deepEqual(ids(receiver.delivered()), range(0, 35));
    const { posts } = receiver;
    assert.deepEqual(
      posts.map((post) => post.status),
      [500, 500, 500, 200, 200, 200, 200],
    );
    assert.deepEqual(
      posts.map((post) => post.events.length),
      [10, 10, 10, 10, 10, 10, 5],
    );
    for (const retry of posts.slice(1, 4)) assert.deepEqual(ids(retry.events), range(0, 10), 'the same batch is retried');
    const gaps = [1, 2, 3].map((index) => (posts[index]?.at ?? 0) - (posts[index - 1]?.at ?? 0));
    [20, 40, 80].forEach((wait, index) => assert.ok((gaps[index] ?? 0) >= wait - 5, `retry ${index + 1} came after ${gaps[index]} ms, not ${wait}`));
    assert.deepEqual(
      failures.map(({ status, attempt, retryInMs, permanent }) => ({ status, attempt, retryInMs, permanent })),
      [
        { status: 500, attempt: 1, retryInMs: 20, permanent: false },
        { status: 500, attempt: 2, retryInMs: 40, permanent: false },
        { status: 500, attempt: 3, retryInMs: 80, permanent: false },
      ],
    );
    assert.equal(posts[0]?.headers.authorization, 'Bearer siem-token');
    assert.equal(posts[0]?.headers['content-type'], 'application/json');
    assert.deepEqual(sink.stats(), { queued: 0, inFlight: 0, delivered: 35, dropped: 0, posts: 7, retries: 3 });
  });

  it('never blocks the caller: writes return at once while the receiver does not answer', async function () {
    receiver = await startReceiver(() => 'hang');
    sink = webhookSink({ url: receiver.url, batchSize: 100, flushIntervalMs: 10, maxQueue: 20_000, timeoutMs: 60_000 });
    const started = performance.now();
    for (let n = 0; n < 10_000; n += 1) assert.equal(sink.write(event(n)), undefined);
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 1000, `10,000 writes took ${elapsed} ms`);
    await waitFor('the first POST', () => receiver?.posts.length === 1);
    for (let n = 10_000; n < 10_100; n += 1) sink.write(event(n));
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(receiver.posts.length, 1, 'one batch on the wire at a time');
    assert.deepEqual({ ...sink.stats(), posts: 0 }, { queued: 10_000, inFlight: 100, delivered: 0, dropped: 0, posts: 0, retries: 0 });

    const closing = performance.now();
    await sink.close(100);
    assert.ok(performance.now() - closing < 3000, 'close() gives up at its deadline');
    assert.equal(sink.stats().dropped, 10_100, 'what could not be delivered is counted');
  });

  it('bounds the queue by dropping the oldest events, counts them, and reports the gap in band and to onDrop', async function () {
    let healthy = false;
    receiver = await startReceiver(() => (healthy ? 200 : 503));
    const reports: DropReport[] = [];
    sink = webhookSink({
      url: receiver.url,
      batchSize: 5,
      flushIntervalMs: 10,
      maxQueue: 20,
      retryBaseMs: 10,
      retryCapMs: 40,
      onDrop: (report) => reports.push(report),
    });
    for (let n = 0; n < 5; n += 1) sink.write(event(n));
    await waitFor('the first failed POST', () => (receiver?.posts.length ?? 0) >= 1);
    for (let n = 5; n < 105; n += 1) {
      sink.write(event(n));
      assert.ok(sink.stats().queued <= 20, 'the queue never holds more than maxQueue');
    }
    assert.deepEqual({ queued: sink.stats().queued, inFlight: sink.stats().inFlight, dropped: sink.stats().dropped }, { queued: 20, inFlight: 5, dropped: 80 });
    assert.deepEqual(
      reports,
      [{ sink: 'webhook', dropped: 1, byReason: { queue_full: 1 }, total: 1, oldestDropped: event(5).time, newestDropped: event(5).time }],
      'the first drop is reported at once',
    );

    healthy = true;
    assert.equal(await sink.flush(5000), true);
    const delivered = receiver.delivered();
    assert.deepEqual(ids(delivered.filter((item) => item.type !== 'audit.dropped')), [...range(0, 5), ...range(85, 105)]);
    const reportAt = delivered.findIndex((item) => item.type === 'audit.dropped');
    assert.equal(reportAt, 5, 'the report sits where the gap is');
    const report = delivered[reportAt];
    assert.equal(report?.outcome, 'failure');
    assert.equal(report?.reason, 'queue_full');
    assert.deepEqual(report?.details, {
      sink: 'webhook',
      dropped: 80,
      queue_full: 80,
      oldestDropped: event(5).time,
      newestDropped: event(84).time,
      totalDropped: 80,
    });

    await sink.close(1000);
    assert.deepEqual(
      reports.at(-1),
      { sink: 'webhook', dropped: 79, byReason: { queue_full: 79 }, total: 80, oldestDropped: event(6).time, newestDropped: event(84).time },
      'the rest is reported at close',
    );
  });

  it('drops a batch the receiver refuses as malformed, and says so in the next one', async function () {
    receiver = await startReceiver((attempt) => (attempt === 0 ? 400 : 200));
    const failures: WebhookFailure[] = [];
    sink = webhookSink({ url: receiver.url, batchSize: 5, flushIntervalMs: 10, onError: (failure) => failures.push(failure) });
    for (let n = 0; n < 10; n += 1) sink.write(event(n));
    assert.equal(await sink.flush(5000), true);
    assert.deepEqual(
      failures.map(({ status, permanent }) => ({ status, permanent })),
      [{ status: 400, permanent: true }],
    );
    const delivered = receiver.delivered();
    assert.equal(delivered[0]?.type, 'audit.dropped');
    assert.equal(delivered[0]?.reason, 'rejected');
    assert.equal(delivered[0]?.details?.['rejected'], 5);
    assert.deepEqual(ids(delivered.slice(1)), range(5, 10));
    assert.equal(sink.stats().dropped, 5);
  });

  it('takes out an event JSON cannot represent instead of crashing, and counts it', async function () {
    receiver = await startReceiver(() => 200);
    sink = webhookSink({ url: receiver.url, batchSize: 3, flushIntervalMs: 10 });
    const broken = { ...event(1), details: { size: 1n } } as unknown as AuditEvent;
    for (const item of [event(0), broken, event(2)]) sink.write(item);
    assert.equal(await sink.flush(5000), true);
    const delivered = receiver.delivered();
    assert.deepEqual(ids(delivered.filter((item) => item.type !== 'audit.dropped')), ['e0', 'e2']);
    assert.equal(delivered.find((item) => item.type === 'audit.dropped')?.details?.['unserializable'], 1);
    assert.equal(sink.stats().dropped, 1);
  });

  it('honours Retry-After up to the retry cap', async function () {
    receiver = await startReceiver((attempt) => (attempt === 0 ? { status: 429, headers: { 'retry-after': '30' } } : 200));
    sink = webhookSink({ url: receiver.url, batchSize: 1, flushIntervalMs: 10, retryBaseMs: 10, retryCapMs: 200, random: () => 0 });
    sink.write(event(0));
    assert.equal(await sink.flush(5000), true);
    const gap = (receiver.posts[1]?.at ?? 0) - (receiver.posts[0]?.at ?? 0);
    assert.ok(gap >= 190 && gap < 3000, `retried after ${gap} ms: Retry-After 30 s, capped at 200 ms`);
  });

  it('close() sends a partial batch at once and waits for it', async function () {
    receiver = await startReceiver(() => 200);
    sink = webhookSink({ url: receiver.url, batchSize: 100, flushIntervalMs: 60_000 });
    for (let n = 0; n < 30; n += 1) sink.write(event(n));
    await sink.close(5000);
    assert.deepEqual(ids(receiver.delivered()), range(0, 30));
    assert.equal(sink.stats().delivered, 30);
    sink.write(event(30));
    assert.equal(sink.stats().dropped, 1, 'a write after close is counted, not sent');
    assert.equal(receiver.posts.length, 1);
  });

  it('close() gives up at its deadline when the receiver keeps failing', async function () {
    receiver = await startReceiver(() => 500);
    sink = webhookSink({ url: receiver.url, batchSize: 5, flushIntervalMs: 10, retryBaseMs: 10, retryCapMs: 20 });
    for (let n = 0; n < 10; n += 1) sink.write(event(n));
    const started = performance.now();
    await sink.close(200);
    const took = performance.now() - started;
    assert.ok(took >= 190 && took < 3000, `close took ${took} ms`);
    assert.deepEqual({ delivered: sink.stats().delivered, dropped: sink.stats().dropped }, { delivered: 0, dropped: 10 });
    assert.ok(receiver.posts.length >= 2, 'it kept retrying until the deadline');
  });

  it('retries a receiver that cannot be reached, then delivers once it listens', async function () {
    const probe = await startReceiver(() => 200);
    const { url, port } = probe;
    await probe.close(); // nothing listens there now
    const failures: WebhookFailure[] = [];
    sink = webhookSink({ url, batchSize: 2, flushIntervalMs: 10, retryBaseMs: 10, retryCapMs: 20, onError: (failure) => failures.push(failure) });
    sink.write(event(0));
    sink.write(event(1));
    await waitFor('two failed attempts', () => failures.length >= 2);
    assert.equal(failures[0]?.status, undefined);
    assert.ok(failures[0]?.error instanceof Error, 'a network error, not a status');
    assert.equal(sink.stats().inFlight, 2);
    receiver = await startReceiver(() => 200, port);
    assert.equal(await sink.flush(5000), true);
    assert.deepEqual(ids(receiver.delivered()), ['e0', 'e1']);
  });

  it('refuses unsafe or nonsense options, naming each', async function () {
    const issues = (options: Parameters<typeof webhookSink>[0]): readonly string[] => {
      try {
        webhookSink(options);
      } catch (error) {
        assert.ok(error instanceof GatehouseConfigError);
        return error.issues;
      }
      return assert.fail('expected the options to be refused');
    };
    assert.match(issues({ url: 'http://siem.example.com/ingest' })[0] ?? '', /^webhookSink\.url: must be an https URL/);
    assert.match(issues({ url: 'https://user:pw@siem.example.com/' })[0] ?? '', /^webhookSink\.url: must not contain credentials/);
    assert.match(issues({ url: 'siem' })[0] ?? '', /^webhookSink\.url: must be an absolute URL/);
    assert.match(issues({ url: 'https://siem.example.com', batchSize: 0 })[0] ?? '', /^webhookSink\.batchSize/);
    assert.match(issues({ url: 'https://siem.example.com', maxQueue: 2_000_000 })[0] ?? '', /^webhookSink\.maxQueue/);
    assert.match(
      issues({ url: 'https://siem.example.com', retryBaseMs: 500, retryCapMs: 100 })[0] ?? '',
      /^webhookSink\.retryCapMs: must be at least retryBaseMs/,
    );
    assert.match(issues({ url: 'https://siem.example.com', headers: { 'x-evil': 'a\r\nb' } })[0] ?? '', /^webhookSink\.headers\.x-evil/);
    assert.match(issues({ url: 'https://siem.example.com', fetch: 'no' as never })[0] ?? '', /^webhookSink\.fetch: must be a function/);
    await webhookSink({ url: 'http://localhost:9/ingest' }).close(1); // plain http to loopback is fine
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { AuditLog } from '../../../src/audit/audit-log.ts';
import { createAuditSinks } from '../../../src/audit/create-audit-sinks.ts';
import type { AuditEvent, AuditSink } from '../../../src/audit/events.ts';
import { auditSettingsSchema } from '../../../src/audit/settings.ts';
import type { WebhookRequestInit } from '../../../src/audit/webhook-options.ts';
import { GatehouseConfigError } from '../../../src/errors/index.ts';

describe('audit settings and sinks from the configuration', function () {
  let dir: string;

  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-config-'));
  });

  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it('defaults to stdout plus the recent-events window', async function () {
    assert.deepEqual(auditSettingsSchema.parse(undefined), { stdout: true, recent: { capacity: 10_000 } });
    const stdout = new PassThrough();
    const built = createAuditSinks(undefined, { stdout });
    assert.equal(built.sinks.length, 2);
    assert.equal(built.recent.capacity, 10_000);
    assert.equal(built.file, undefined);
    assert.equal(built.webhook, undefined);
    const log = new AuditLog(built.sinks);
    const event = log.emit({ type: 'gateway.started', outcome: 'info' });
    assert.deepEqual(JSON.parse(String(stdout.read())), { audit: true, ...event });
    assert.deepEqual(await built.recent.query(), [event]);
  });

  it('builds the file and webhook sinks, reading the secret and CA files, with durations in seconds', async function () {
    writeFileSync(join(dir, 'token'), 'Splunk 0123456789\n');
    const posts: { url: string; init: WebhookRequestInit }[] = [];
    const built = createAuditSinks(
      {
        stdout: false,
        file: { path: 'audit.jsonl' },
        webhook: {
          url: 'https://siem.example.com/services/collector',
          authorizationFile: 'token',
          headers: { 'x-source': 'gatehouse' },
          flushInterval: '2s',
          batchSize: 10,
        },
        recent: { capacity: 50 },
      },
      {
        baseDir: dir,
        fetch: (url, init) => {
          posts.push({ url, init });
          return Promise.resolve({ status: 200, headers: new Headers(), body: null });
        },
      },
    );
    assert.ok(built.file && built.webhook);
    assert.equal(built.file.path, join(dir, 'audit.jsonl'));
    assert.equal(built.sinks.length, 3);
    const log = new AuditLog(built.sinks);
    const event = log.emit({ type: 'logout', outcome: 'success', user: { sub: 'alice' } });
    await log.close(2000);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'audit.jsonl'), 'utf8')) as AuditEvent, event);
    assert.equal(posts.length, 1);
    assert.equal(posts[0]?.url, 'https://siem.example.com/services/collector');
    assert.equal(posts[0]?.init.headers['authorization'], 'Splunk 0123456789');
    assert.equal(posts[0]?.init.headers['x-source'], 'gatehouse');
    assert.deepEqual(JSON.parse(posts[0]?.init.body ?? '') as AuditEvent[], [event]);
  });

  it('tells the other sinks when one drops events', async function () {
    const stdout = new PassThrough();
    const reports: unknown[] = [];
    // A backlog of one byte: the file sink drops every event, as it would with a stalled disk.
    const built = createAuditSinks({ file: { path: 'audit.jsonl', maxBacklogBytes: 1 } }, { baseDir: dir, stdout, onDrop: (report) => reports.push(report) });
    const log = new AuditLog(built.sinks);
    const lost = log.emit({ type: 'logout', outcome: 'success', user: { sub: 'alice' } });
    log.emit({ type: 'logout', outcome: 'success', user: { sub: 'bob' } });
    const [report] = await built.recent.query({ type: 'audit.dropped' });
    assert.equal(report?.reason, 'backlog_full');
    assert.deepEqual(report?.details, { sink: 'file', dropped: 1, backlog_full: 1, oldestDropped: lost.time, newestDropped: lost.time, totalDropped: 1 });
    const printed = String(stdout.read())
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as AuditEvent);
    assert.deepEqual(
      printed.map((item) => item.type),
      ['logout', 'audit.dropped', 'logout'],
      'stdout hears of it too',
    );
    assert.equal(reports.length, 1, 'and the listener, once per interval');
    await log.close(100);
    assert.equal(reports.length, 2, 'the rest at close');
  });

  it('names each mistake under audit.', function () {
    const issues = (input: unknown): readonly string[] => {
      try {
        createAuditSinks(input as never, { baseDir: dir });
      } catch (error) {
        assert.ok(error instanceof GatehouseConfigError);
        return error.issues;
      }
      return assert.fail('expected the settings to be refused');
    };
    assert.match(issues({ webhook: { url: 'http://siem.example.com' } })[0] ?? '', /^audit\.webhook\.url: must be an https URL/);
    assert.match(
      issues({ webhook: { url: 'https://siem.example.com', flushInterval: '5m' } })[0] ?? '',
      /^audit\.webhook\.flushInterval: .*at most 60 seconds/,
    );
    assert.match(
      issues({ webhook: { url: 'https://siem.example.com', authorization: 'a', authorizationFile: 'b' } })[0] ?? '',
      /^audit\.webhook\.authorizationFile: give authorization or authorizationFile, not both/,
    );
    assert.match(
      issues({ webhook: { url: 'https://siem.example.com', caFile: 'missing.pem' } })[0] ?? '',
      /^audit\.webhook\.caFile: cannot read "missing\.pem" \(ENOENT\)/,
    );
    assert.match(issues({ recent: { capacity: 0 } })[0] ?? '', /^audit\.recent\.capacity/);
    assert.match(issues({ syslog: true })[0] ?? '', /syslog/);
  });

  it('closes every sink within one deadline, even when one fails', async function () {
    const closed: string[] = [];
    const errors: unknown[] = [];
    const sink = (name: string, fails = false): AuditSink => ({
      write() {},
      flush: () => Promise.resolve(!fails),
      close: () => {
        closed.push(name);
        return fails ? Promise.reject(new Error(`${name} failed`)) : Promise.resolve();
      },
    });
    const log = new AuditLog([sink('a'), { write() {} }, sink('b', true)], { onSinkError: (error) => errors.push(error) });
    assert.equal(await log.flush(100), false);
    await log.close(100);
    assert.deepEqual(closed, ['a', 'b']);
    assert.equal(errors.length, 1);
  });
});

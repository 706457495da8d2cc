/**
 * `npm run bench -- --quick` keeps working: every variant of the benchmark
 * starts, answers 200 with the right body, signs in where it has a sign-in
 * (and sends a request without the session to sign in), and moves a small
 * transfer with its SHA-256 equal. No figure is asserted: figures belong to
 * the benchmark, run on a quiet machine, not to a test.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchReport } from '../../bench/lib/report-json.ts';

const RUN = fileURLToPath(new URL('../../bench/run.ts', import.meta.url));
const hasRedis = spawnSync('redis-server', ['--version']).error === undefined;

describe('bench: npm run bench -- --quick', function () {
  // Starting every variant takes most of it: a minute on a quiet 2-core machine, more on a busy one.
  this.timeout(300_000);
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-quick-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('checks every variant and exits 0', async () => {
    const json = join(dir, 'quick.json');
    const child = spawn(process.execPath, [RUN, '--quick', '--json', json, ...(hasRedis ? [] : ['--no-redis'])], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stdout.resume();
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err = (err + chunk).slice(-20_000)));
    const timer = setTimeout(() => child.kill('SIGTERM'), 280_000);
    const [code] = (await once(child, 'exit')) as [number | null];
    clearTimeout(timer);
    assert.equal(code, 0, `bench --quick failed:\n${err}`);

    const report = JSON.parse(readFileSync(json, 'utf8')) as BenchReport;
    assert.equal(report.settings.quick, true);
    const keys = report.variants.map((variant) => variant.key);
    const expected = [
      'direct',
      'direct-2',
      'eoidc',
      'gw-pass-direct',
      'gw-gate-direct',
      'tunnel-pass',
      'tunnel-gate',
      'tunnel-pass-ws',
      // gatehouse serve --workers 1 and 2 through the CLI: a Redis store is what lets workers share their state.
      ...(hasRedis ? ['tunnel-gate-redis', 'workers-1', 'workers-2'] : []),
    ];
    assert.deepEqual(keys, expected);
    const signedIn = ['eoidc', 'gw-gate-direct', 'tunnel-gate', 'tunnel-gate-redis', 'workers-1', 'workers-2'];
    // The store is not on the transfer path: its variant, the forwarding-direct gate and the workers stacks have no transfer of their own.
    const transferring = ['direct', 'eoidc', 'gw-pass-direct', 'tunnel-pass', 'tunnel-gate', 'tunnel-pass-ws'];
    for (const key of keys) {
      const checks = report.checks[key];
      assert.equal(checks?.get, true, `${key}: 200 and the 1 KiB body`);
      if (signedIn.includes(key)) assert.equal(checks?.signIn, true, `${key}: signed in, and not let through without the session`);
      if (transferring.includes(key)) assert.equal(checks?.transfer, true, `${key}: a download and an upload with their SHA-256 equal`);
      // Each measured run answered without an error.
      for (const [connections, figures] of Object.entries(report.gets[key] ?? {})) assert.equal(figures.errors, 0, `${key} @${connections}: errors`);
    }
    // Each process's memory after a full GC at start, after the GETs and after the transfers: RSS, and what JavaScript holds
    // (asked of the process itself, over IPC or through its inspector: a process that did not answer would leave a gap).
    assert.ok(report.memory.some((entry) => entry.label.startsWith('connector')));
    for (const entry of report.memory) {
      assert.equal(entry.settled.length, 3, `${entry.label}: RSS after a full GC at each point`);
      assert.equal(entry.live.length, 3, `${entry.label}: what JavaScript holds at each point`);
      for (const bytes of [...entry.settled, ...entry.live]) assert.ok(Number.isFinite(bytes) && bytes > 0, `${entry.label}: ${bytes}`);
    }
  });
});

import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { runNode } from '../../dev/lib/processes.ts';
import type { SummaryFigures } from '../../soak/lib/summary.ts';

const SOAK = fileURLToPath(new URL('../../soak/run.ts', import.meta.url));

describe('chaos soak, quick', function () {
  // The soak itself must finish under 60 s; the rest is slack for a loaded machine to report a clear failure, not a mocha timeout.
  this.timeout(150_000);

  it('keeps every request clear through connector kills, a backend restart, the IdP down and a Redis restart, and leaks nothing', async () => {
    const started = Date.now();
    const { code, stdout, stderr } = await runNode(SOAK, ['--quick']);
    const seconds = (Date.now() - started) / 1000;
    const line = stdout.split('\n').find((candidate) => candidate.startsWith('SOAK-SUMMARY '));
    assert.ok(line, `no summary line\nstdout:\n${stdout}\nstderr:\n${stderr.slice(-4000)}`);
    const summary = JSON.parse(line.slice('SOAK-SUMMARY '.length)) as SummaryFigures & { totalSeconds: number };
    assert.equal(code, 0, stdout);
    assert.equal(summary.passed, true, stdout);
    assert.equal(summary.failures, 0, stdout);
    for (const [name, ok] of Object.entries(summary.checks)) assert.equal(ok, true, `${name}\n${stdout}`);
    assert.deepEqual(Object.keys(summary.checks).length, 7);
    // Real traffic of every kind got through, and the chaos was felt (clear refusals while the backend was down).
    assert.ok(summary.requests > 500, `only ${summary.requests} requests`);
    for (const kind of ['get', 'post', 'download', 'upload', 'ws-open', 'ws-message']) assert.ok((summary.ok[kind] ?? 0) > 0, `no successful ${kind}`);
    assert.ok(Object.keys(summary.refused).length > 0, 'no clear refusal at all: the chaos did not reach the requests');
    for (const key of Object.keys(summary.refused)) assert.match(key, /^(ws upgrade )?50[234] ERR_[A-Z0-9_]+$|^ws closed 10(01|11|12|13)$/);
    assert.ok(summary.rssEndMiB - summary.rssStartMiB < 64, `RSS ${summary.rssStartMiB} → ${summary.rssEndMiB} MiB`);
    assert.ok(seconds < 60, `the quick soak took ${seconds.toFixed(1)} s`);
  });
});

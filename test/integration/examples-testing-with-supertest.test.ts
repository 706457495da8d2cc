import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { runNode } from '../../dev/lib/processes.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MOCHA = fileURLToPath(new URL('../../node_modules/mocha/bin/mocha.js', import.meta.url));
const SUITE = 'examples/testing-with-supertest/app.test.ts';

interface MochaJson {
  stats: { tests: number; passes: number; failures: number; pending: number };
  passes: Array<{ fullTitle: string }>;
  failures: Array<{ fullTitle: string; err: { message: string } }>;
}

describe('examples/testing-with-supertest: the example app runs its own test suite', function () {
  this.timeout(60_000);

  it('passes, as `mocha app.test.ts` in that project would', async () => {
    // Its own mocha run, without this repository's .mocharc: the example's suite stands alone. The
    // condition lets `gatehouse` imports resolve to this checkout's sources once package.json maps it.
    const run = await runNode(
      MOCHA,
      ['--no-config', '--node-option', 'conditions=gatehouse-source', '--extension', 'ts', '--check-leaks', '--reporter', 'json', SUITE],
      { cwd: ROOT },
    );
    const report = JSON.parse(run.stdout) as MochaJson;
    assert.deepEqual(
      report.failures.map((failure) => `${failure.fullTitle}: ${failure.err.message}`),
      [],
    );
    assert.equal(run.code, 0, run.stderr);
    assert.equal(report.stats.pending, 0);
    assert.deepEqual(
      report.passes.map((test) => test.fullTitle),
      [
        'the portal, with Gatehouse mounted answers its own routes without a sign-in',
        'the portal, with Gatehouse mounted asks strangers on the HR host to sign in',
        'the portal, with Gatehouse mounted lets staff in and tells the HR application who they are',
        'the portal, with Gatehouse mounted blocks contractors, by the real policy',
        'the portal, with Gatehouse mounted asks for MFA on payroll, and lets an MFA session in',
      ],
    );
    // Test mode is loud, even in a test run.
    assert.match(run.stderr, /Gatehouse TEST MODE is on/);
  });
});

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../scripts/ensure-test-deps.sh', import.meta.url));

function run(env: NodeJS.ProcessEnv, asNobody = false): { status: number | null; stderr: string; stdout: string } {
  const command = asNobody ? 'setpriv' : 'bash';
  const args = asNobody ? ['--reuid=65534', '--regid=65534', '--clear-groups', 'bash', SCRIPT] : [SCRIPT];
  const result = spawnSync(command, args, { env: { PATH: process.env['PATH'], ...env }, encoding: 'utf8', timeout: 20_000 });
  return { status: result.status, stderr: result.stderr, stdout: result.stdout };
}

describe('scripts/ensure-test-deps.sh (the test set-up step npm test and CI share)', () => {
  it('is silent and succeeds when everything is there', function () {
    if (!existsSync('/usr/bin/chromium')) this.skip();
    const result = run({ GATEHOUSE_DEPS_CHROMIUM: '/usr/bin/chromium', GATEHOUSE_DEPS_REDIS: 'bash' });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stderr + result.stdout, '');
  });

  it('names exactly what is missing, in one line, when told only to check', () => {
    const result = run({ GATEHOUSE_DEPS_CHECK_ONLY: '1', GATEHOUSE_DEPS_CHROMIUM: '/nonexistent/chromium', GATEHOUSE_DEPS_REDIS: 'no-such-redis-server' });
    assert.equal(result.status, 1);
    assert.equal(result.stderr.trim().split('\n').length, 1);
    assert.match(result.stderr, /missing: chromium redis-server \(install with: apt-get install chromium redis-server\)/);
  });

  it('says in one line what to install when it may not install (not root, no sudo)', function () {
    if (process.getuid?.() !== 0 || spawnSync('setpriv', ['--version']).status !== 0) this.skip();
    const result = run({ GATEHOUSE_DEPS_CHROMIUM: '/nonexistent/chromium', GATEHOUSE_DEPS_REDIS: 'bash' }, true);
    assert.equal(result.status, 1);
    assert.equal(result.stderr.trim().split('\n').length, 1);
    assert.match(result.stderr, /the tests need chromium: run as root, or install them yourself: sudo apt-get install chromium/);
  });
});

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../scripts/ensure-test-deps.sh', import.meta.url));
const isRoot = process.getuid?.() === 0;
const canDropRoot = isRoot && spawnSync('setpriv', ['--version']).status === 0;

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
    if (!canDropRoot) this.skip();
    const result = run({ GATEHOUSE_DEPS_CHROMIUM: '/nonexistent/chromium', GATEHOUSE_DEPS_REDIS: 'bash' }, true);
    assert.equal(result.status, 1);
    assert.equal(result.stderr.trim().split('\n').length, 1);
    assert.match(result.stderr, /the tests need chromium: run as root, or install them yourself: sudo apt-get install chromium/);
  });

  /**
   * The install path, without installing anything: a stand-in apt-get (and
   * sudo) first on PATH records how it was called and, unless told to fail,
   * "installs" by creating what the script looks for in a temporary folder.
   */
  describe('installing what is missing (with a stand-in apt-get)', () => {
    let dir: string;
    let bin: string;
    const chromium = (): string => join(dir, 'chromium');
    const calls = (): string[] => (existsSync(join(dir, 'calls')) ? readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n') : []);

    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'gatehouse-deps-'));
      bin = join(dir, 'bin');
      mkdirSync(bin);
      writeFileSync(
        join(bin, 'apt-get'),
        `#!/bin/bash
echo "$(id -u) DEBIAN_FRONTEND=\${DEBIAN_FRONTEND:-unset} apt-get $*" >> "${dir}/calls"
[ "$1" = install ] || exit 0
[ -e "${dir}/fail-install" ] && exit 100
[ -e "${dir}/install-nothing" ] && exit 0
for package in "$@"; do
  case "$package" in
    chromium) printf '#!/bin/sh\\n' > "${dir}/chromium"; chmod 755 "${dir}/chromium" ;;
    redis-server) printf '#!/bin/sh\\n' > "${dir}/bin/fake-redis-server"; chmod 755 "${dir}/bin/fake-redis-server" ;;
  esac
done
`,
      );
      // Like the real one: no password asked (-n), and the environment reset before the command runs.
      writeFileSync(join(bin, 'sudo'), `#!/bin/bash\n[ "$1" = -n ] && shift\nexec env -i PATH="$PATH" "$@"\n`);
      chmodSync(join(bin, 'apt-get'), 0o755);
      chmodSync(join(bin, 'sudo'), 0o755);
      // The stand-ins also run as nobody (the sudo case), and write their record here.
      chmodSync(dir, 0o777);
      chmodSync(bin, 0o777);
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    const install = (asNobody = false) =>
      run({ PATH: `${bin}:${process.env['PATH'] ?? ''}`, GATEHOUSE_DEPS_CHROMIUM: chromium(), GATEHOUSE_DEPS_REDIS: 'fake-redis-server' }, asNobody);

    it('as root: apt-get update once, then installs only what is missing, non-interactively, saying so on stderr', function () {
      if (!isRoot) this.skip();
      writeFileSync(join(bin, 'fake-redis-server'), '#!/bin/sh\n');
      chmodSync(join(bin, 'fake-redis-server'), 0o755);
      const result = install();
      assert.equal(result.status, 0, result.stderr);
      assert.deepEqual(calls(), [
        '0 DEBIAN_FRONTEND=noninteractive apt-get update -q',
        '0 DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium',
      ]);
      assert.equal(result.stdout, '', 'stdout stays clean');
      assert.deepEqual(result.stderr.trim().split('\n'), [
        'ensure-test-deps: installing chromium with apt-get (about a minute)…',
        'ensure-test-deps: installed chromium',
      ]);
      assert.equal(install().stderr, '', 'and the next run finds it there and says nothing');
    });

    it('not root, with sudo that needs no password: installs through it, with the frontend set despite sudo resetting the environment', function () {
      if (isRoot && !canDropRoot) this.skip();
      const result = install(isRoot);
      assert.equal(result.status, 0, result.stderr);
      assert.deepEqual(
        calls(),
        [
          '65534 DEBIAN_FRONTEND=noninteractive apt-get update -q',
          '65534 DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium redis-server',
        ].map((line) => (isRoot ? line : line.replace('65534', String(process.getuid?.())))),
      );
      assert.match(result.stderr, /installed chromium redis-server/);
    });

    it('fails in one line when apt-get fails, and when it succeeds without providing what the tests look for', function () {
      if (!isRoot) this.skip();
      writeFileSync(join(dir, 'fail-install'), '');
      const failed = install();
      assert.equal(failed.status, 1);
      assert.match(failed.stderr.trim().split('\n').at(-1) ?? '', /^ensure-test-deps: apt-get install chromium redis-server failed: install them yourself/);

      rmSync(join(dir, 'fail-install'));
      writeFileSync(join(dir, 'install-nothing'), '');
      const empty = install();
      assert.equal(empty.status, 1);
      assert.equal(
        empty.stderr.trim().split('\n').at(-1),
        `ensure-test-deps: apt-get installed chromium redis-server, yet chromium redis-server is still not there (Chromium is expected at ${chromium()}): install it yourself, then run the tests again`,
      );
    });
  });
});

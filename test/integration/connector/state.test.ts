import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createDevCa } from '../../../dev/lib/dev-ca.ts';
import { TargetAllowList } from '../../../src/connector/allow-list.ts';
import { ConnectorError } from '../../../src/errors/connector-error.ts';
import {
  STATE_FILES,
  ensureStateDir,
  hasRegistration,
  loadIdentity,
  loadState,
  readAllowList,
  readRecord,
  writeAllowList,
  writeCaChain,
  writeIdentity,
  writeRecord,
  writeServiceCa,
  type ClientIdentity,
} from '../../../src/connector/state.ts';

const STATE_MODULE = pathToFileURL(join(import.meta.dirname, '../../../src/connector/state.ts')).href;

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

async function rejectsWith(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ConnectorError, `expected a ConnectorError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    return true;
  });
}

/**
 * A child process that swaps key+cert pairs in `dir` and is killed with
 * SIGKILL: either at a named step of the swap (it pauses there), or while
 * swapping back and forth in a loop.
 */
async function killMidSwap(dir: string, pairs: readonly ClientIdentity[], plan: { pauseAt: string } | { loopUntil: number }): Promise<void> {
  const code = `
    const { writeIdentity } = await import(process.env.STATE_MODULE);
    const pairs = JSON.parse(process.env.PAIRS);
    const dir = process.env.DIR;
    if (process.env.PAUSE_AT) {
      await writeIdentity(dir, pairs[1], {
        afterStep: async (step) => {
          if (step !== process.env.PAUSE_AT) return;
          process.stdout.write('paused ' + step + '\\n');
          setInterval(() => {}, 60000);
          await new Promise(() => {});
        },
      });
      process.stdout.write('finished\\n');
    } else {
      for (let i = 1; ; i++) {
        await writeIdentity(dir, pairs[i % 2]);
        process.stdout.write('swapped ' + i + '\\n');
      }
    }
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
    env: {
      ...process.env,
      STATE_MODULE,
      DIR: dir,
      PAIRS: JSON.stringify(pairs),
      ...('pauseAt' in plan ? { PAUSE_AT: plan.pauseAt } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = once(child, 'exit');
  await new Promise<void>((resolve, reject) => {
    const ready = (): boolean => ('pauseAt' in plan ? out.includes(`paused ${plan.pauseAt}`) : out.includes(`swapped ${plan.loopUntil}\n`));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (ready()) resolve();
    });
    child.once('exit', () => reject(new Error(`child exited early:\n${out}\n${err}`)));
  });
  child.kill('SIGKILL');
  const [, signal] = (await exited) as [number | null, NodeJS.Signals | null];
  assert.equal(signal, 'SIGKILL');
}

describe('connector state directory', function () {
  let root: string;
  let pairA: ClientIdentity;
  let pairB: ClientIdentity;
  let caPem: string;

  before(function () {
    const ca = createDevCa({ commonName: 'connector state test CA' });
    const a = ca.issueServerCertificate(['connector-a']);
    const b = ca.issueServerCertificate(['connector-b']);
    pairA = { keyPem: a.keyPem, certPem: a.certPem };
    pairB = { keyPem: b.keyPem, certPem: b.certPem };
    caPem = ca.certPem;
  });

  beforeEach(function () {
    root = mkdtempSync(join(tmpdir(), 'gatehouse-connector-state-'));
  });
  afterEach(function () {
    rmSync(root, { recursive: true, force: true });
  });

  async function registeredDir(name = 'state'): Promise<string> {
    const dir = join(root, name);
    await ensureStateDir(dir);
    await writeCaChain(dir, caPem);
    await writeServiceCa(dir, caPem);
    await writeIdentity(dir, pairA);
    await writeRecord(dir, { connectorId: 'c-1', group: 'default', serviceUrl: 'https://127.0.0.1:8444', registeredAt: new Date().toISOString() });
    await writeAllowList(dir, TargetAllowList.parse(['10.0.0.0/8', 'wiki.corp:443']));
    return dir;
  }

  it('creates the directory 0700 and writes every file 0600, whatever the umask', async function () {
    const previous = process.umask(0o000);
    try {
      const dir = await registeredDir('deep/er/state');
      assert.equal(mode(dir), 0o700);
      for (const file of Object.values(STATE_FILES)) assert.equal(mode(join(dir, file)), 0o600, file);
      assert.deepEqual(readdirSync(dir).sort(), Object.values(STATE_FILES).sort(), 'no temporary or .next files left');
    } finally {
      process.umask(previous);
    }
  });

  it('tightens an existing directory to 0700', async function () {
    const dir = join(root, 'loose');
    await ensureStateDir(dir);
    chmodSync(dir, 0o755);
    await ensureStateDir(dir);
    assert.equal(mode(dir), 0o700);
  });

  it('loads what it wrote, and reports registration only once connector.json exists', async function () {
    const dir = join(root, 'state');
    await ensureStateDir(dir);
    assert.equal(await hasRegistration(dir), false);
    await rejectsWith(readRecord(dir), 'ERR_NOT_REGISTERED', /register --service URL --state-dir/);
    const full = await registeredDir();
    const state = await loadState(full);
    assert.equal(state.record.connectorId, 'c-1');
    assert.equal(state.identity.certPem, pairA.certPem);
    assert.equal(state.identity.keyPem, pairA.keyPem);
    assert.match(state.caChainPem, /BEGIN CERTIFICATE/);
    assert.match(state.serviceCaPem ?? '', /BEGIN CERTIFICATE/);
    await writeServiceCa(full, undefined);
    assert.equal((await loadState(full)).serviceCaPem, undefined);
  });

  it('refuses a certificate that does not belong to the key, naming the file', async function () {
    const dir = await registeredDir();
    writeFileSync(join(dir, STATE_FILES.certificate), pairB.certPem, { mode: 0o600 });
    await rejectsWith(loadIdentity(dir), 'ERR_STATE_INVALID', /connector\.crt: is not the certificate of connector\.key/);
  });

  it('names the file that is missing, unreadable or malformed', async function () {
    const dir = await registeredDir();
    writeFileSync(join(dir, STATE_FILES.record), '{"connectorId": 7}');
    await rejectsWith(loadState(dir), 'ERR_STATE_INVALID', /connector\.json: is not a connector record \(connectorId: /);
    writeFileSync(join(dir, STATE_FILES.record), 'not json');
    await rejectsWith(loadState(dir), 'ERR_STATE_INVALID', /connector\.json: is not JSON/);

    const other = await registeredDir('other');
    writeFileSync(join(other, STATE_FILES.key), 'garbage', { mode: 0o600 });
    await rejectsWith(loadIdentity(other), 'ERR_STATE_INVALID', /connector\.key: is not a PEM private key/);
    rmSync(join(other, STATE_FILES.key));
    await rejectsWith(loadIdentity(other), 'ERR_STATE_INVALID', /connector\.key: is missing/);

    const third = await registeredDir('third');
    writeFileSync(join(third, STATE_FILES.caChain), 'nothing here');
    await rejectsWith(loadState(third), 'ERR_STATE_INVALID', /ca\.crt: is not a PEM certificate bundle/);
  });

  it('keeps the allow-list, and stops on one it cannot read rather than run without it', async function () {
    const dir = await registeredDir();
    assert.deepEqual((await readAllowList(dir))?.texts, ['10.0.0.0/8', 'wiki.corp:443']);
    writeFileSync(join(dir, STATE_FILES.allowList), '{"allow": ["10.0.0.0/99"]}', { mode: 0o600 });
    await rejectsWith(
      readAllowList(dir),
      'ERR_STATE_INVALID',
      /allow-list\.json: --allow "10\.0\.0\.0\/99": "10\.0\.0\.0\/99" has a prefix length outside 0-32/,
    );
    writeFileSync(join(dir, STATE_FILES.allowList), '["10.0.0.0/8"]', { mode: 0o600 });
    await rejectsWith(readAllowList(dir), 'ERR_STATE_INVALID', /allow-list\.json: is not an allow-list/);
    writeFileSync(join(dir, STATE_FILES.allowList), '{', { mode: 0o600 });
    await rejectsWith(readAllowList(dir), 'ERR_STATE_INVALID', /allow-list\.json: is not JSON/);
    rmSync(join(dir, STATE_FILES.allowList));
    assert.equal(await readAllowList(dir), undefined, 'no file: no allow-list');
  });

  it('refuses a private key that other users can read', async function () {
    const dir = await registeredDir();
    chmodSync(join(dir, STATE_FILES.key), 0o644);
    await rejectsWith(loadIdentity(dir), 'ERR_STATE_INSECURE', /readable by other users \(mode 0644\)\. Run: chmod 600/);
  });

  it('swaps key and certificate together', async function () {
    const dir = await registeredDir();
    await writeIdentity(dir, pairB);
    const loaded = await loadIdentity(dir);
    assert.equal(loaded.certPem, pairB.certPem);
    assert.equal(loaded.keyPem, pairB.keyPem);
    await assert.rejects(writeIdentity(dir, { keyPem: pairA.keyPem, certPem: pairB.certPem }), TypeError);
  });

  describe('a writer killed with SIGKILL in the middle of a swap', function () {
    const expectations: Array<[string, 'A' | 'B']> = [
      ['key-next-written', 'A'],
      ['cert-next-written', 'B'],
      ['key-renamed', 'B'],
      ['cert-renamed', 'B'],
    ];
    for (const [step, expected] of expectations) {
      it(`after ${step}: loading yields pair ${expected}, and repairing leaves a clean directory`, async function () {
        const dir = await registeredDir();
        await killMidSwap(dir, [pairA, pairB], { pauseAt: step });
        const want = expected === 'A' ? pairA : pairB;

        // A reader beside the writer (status) picks the right pair without touching the files.
        const before = readdirSync(dir).sort();
        const peek = await loadIdentity(dir, { repair: false });
        assert.equal(peek.certPem, want.certPem);
        assert.equal(peek.keyPem, want.keyPem);
        assert.deepEqual(readdirSync(dir).sort(), before);

        const repaired = await loadIdentity(dir, { repair: true });
        assert.equal(repaired.certPem, want.certPem);
        assert.equal(repaired.keyPem, want.keyPem);
        assert.ok(!readdirSync(dir).some((name) => name.endsWith('.next')), readdirSync(dir).join(', '));
        assert.equal(readFileSync(join(dir, STATE_FILES.certificate), 'utf8'), want.certPem);
        assert.equal(readFileSync(join(dir, STATE_FILES.key), 'utf8'), want.keyPem);
        assert.equal(mode(join(dir, STATE_FILES.key)), 0o600);
      });
    }

    it('while swapping back and forth: every kill leaves one whole pair', async function () {
      const dir = await registeredDir();
      for (let round = 1; round <= 5; round++) {
        await killMidSwap(dir, [pairA, pairB], { loopUntil: round * 3 });
        const loaded = await loadIdentity(dir, { repair: true });
        const isA = loaded.certPem === pairA.certPem && loaded.keyPem === pairA.keyPem;
        const isB = loaded.certPem === pairB.certPem && loaded.keyPem === pairB.keyPem;
        assert.ok(isA || isB, `round ${round}: a mismatched pair survived`);
        // Temporary files a kill may leave behind do not stop the next load.
        await loadState(dir, { repair: true });
      }
    });
  });
});

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileStore } from '../../../src/store/file-store.ts';
import { StoreError } from '../../../src/store/store-error.ts';
import { CRASH_VALUE_CHARS, crashValue } from './crash-child.ts';

const CHILD = fileURLToPath(new URL('./crash-child.ts', import.meta.url));

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

function tempFiles(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.startsWith('.tmp-'));
}

/** A child process whose stdout lines can be awaited. */
class Child {
  readonly process: ChildProcess;
  readonly lines: string[] = [];
  readonly exited: Promise<void>;
  #stderr = '';
  #waiters: Array<() => void> = [];

  constructor(dir: string, childMode: 'write-loop' | 'hold') {
    this.process = spawn(process.execPath, [CHILD, dir, childMode], { stdio: ['ignore', 'pipe', 'pipe'] });
    let partial = '';
    this.process.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      this.lines.push(...parts);
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.process.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stderr += chunk;
    });
    this.exited = new Promise((resolve) => {
      this.process.once('close', () => {
        for (const wake of this.#waiters.splice(0)) wake();
        resolve();
      });
    });
  }

  get pid(): number {
    assert.ok(this.process.pid !== undefined);
    return this.process.pid;
  }

  async waitFor(predicate: (lines: readonly string[]) => boolean): Promise<void> {
    while (!predicate(this.lines)) {
      if (this.process.exitCode !== null || this.process.signalCode !== null) {
        assert.fail(`child exited early: ${this.#stderr}`);
      }
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  async kill(): Promise<void> {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill('SIGKILL');
    await this.exited;
  }
}

/** Polls (yielding to the event loop) until a write is under way, so the kill lands inside it. */
async function untilTempFileAppears(dir: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (tempFiles(dir).length === 0) {
    assert.ok(Date.now() < deadline, 'the writer never started a write');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function lastCommitted(lines: readonly string[]): number {
  const committed = lines.filter((line) => line.startsWith('committed ')).map((line) => Number(line.slice(10)));
  return committed.length === 0 ? 0 : Math.max(...committed);
}

describe('FileStore', function () {
  this.timeout(60_000);
  let root: string;
  let dir: string;
  const children: Child[] = [];

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'gatehouse-file-store-'));
    dir = join(root, 'state');
  });
  afterEach(async () => {
    for (const child of children.splice(0)) await child.kill();
    rmSync(root, { recursive: true, force: true });
  });

  it('creates its directory 0700 and every file 0600, named after the key', async () => {
    const store = await FileStore.open(dir);
    await store.put('ca', '{"keyPem":"secret"}');
    await store.put('connector:c-1', '{}');
    assert.equal(mode(dir), 0o700);
    assert.deepEqual(
      readdirSync(dir)
        .filter((name) => !name.startsWith('.'))
        .sort(),
      ['ca', 'connector%3Ac-1'],
    );
    for (const name of ['ca', 'connector%3Ac-1', '.lock']) assert.equal(mode(join(dir, name)), 0o600, name);
    assert.equal(readFileSync(join(dir, 'ca'), 'utf8'), '{"keyPem":"secret"}');
    await store.close();
  });

  it('tightens an existing directory to 0700, whatever the umask left', async () => {
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    const previous = process.umask(0);
    try {
      const store = await FileStore.open(dir);
      await store.put('k', 'v');
      assert.equal(mode(dir), 0o700);
      assert.equal(mode(join(dir, 'k')), 0o600);
      await store.close();
    } finally {
      process.umask(previous);
    }
  });

  it('survives a reopen', async () => {
    const first = await FileStore.open(dir);
    await first.put('ca', 'one');
    await first.put('connector:c-9', 'nine');
    await first.close();
    const second = await FileStore.open(dir);
    assert.equal(await second.get('ca'), 'one');
    assert.deepEqual(await second.list('connector:'), ['connector:c-9']);
    await second.close();
  });

  it('cleans temp files left by a crash, and never lists dot-files or foreign names as keys', async () => {
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(join(dir, '.tmp-0123456789abcdef'), '{"half":');
    writeFileSync(join(dir, 'README'), 'not ours');
    writeFileSync(join(dir, 'connector%3ac-1'), 'lowercase escape: not a canonical name');
    const store = await FileStore.open(dir);
    assert.deepEqual(tempFiles(dir), []);
    assert.deepEqual(await store.list(''), []);
    await store.put('k', 'v');
    assert.deepEqual(await store.list(''), ['k']);
    await store.close();
  });

  it('refuses a path that is not a directory', async () => {
    mkdirSync(root, { recursive: true });
    writeFileSync(dir, 'a file');
    await assert.rejects(FileStore.open(dir), (error: unknown) => error instanceof StoreError && error.code === 'ERR_STORE_UNUSABLE');
  });

  describe('the state directory lock', () => {
    it('refuses a second open in the same process, naming this pid, until the first closes', async () => {
      const first = await FileStore.open(dir);
      await assert.rejects(FileStore.open(dir), (error: unknown) => {
        assert.ok(error instanceof StoreError);
        assert.equal(error.code, 'ERR_STORE_LOCKED');
        assert.match(error.message, new RegExp(`process ${process.pid} \\(this process\\)`));
        return true;
      });
      await first.close();
      assert.deepEqual(
        readdirSync(dir).filter((name) => name.startsWith('.lock')),
        [],
      );
      const second = await FileStore.open(dir);
      await second.close();
    });

    it('refuses an open while another live process holds the directory, naming its pid', async () => {
      const holder = new Child(dir, 'hold');
      children.push(holder);
      await holder.waitFor((lines) => lines.includes('ready'));
      await assert.rejects(FileStore.open(dir), (error: unknown) => {
        assert.ok(error instanceof StoreError);
        assert.equal(error.code, 'ERR_STORE_LOCKED');
        assert.match(error.message, new RegExp(`process ${holder.pid}\\b`));
        assert.match(error.message, /\.lock/);
        return true;
      });
      await holder.kill();
      // Its pid is gone now: the lock is stale and is taken over.
      const store = await FileStore.open(dir);
      assert.match(readFileSync(join(dir, '.lock'), 'utf8'), new RegExp(`^${process.pid} `));
      await store.close();
    });

    it('takes over a lock that is empty or unreadable as a pid', async () => {
      mkdirSync(dir, { mode: 0o700 });
      for (const content of ['', 'garbage\n', '-1 x\n']) {
        writeFileSync(join(dir, '.lock'), content);
        const store = await FileStore.open(dir);
        await store.close();
      }
    });
  });

  describe('crash safety', () => {
    it('after SIGKILL mid-write, every key holds a complete value: the last committed one or the one in flight', async () => {
      let killedMidWrite = 0;
      let stored = 0;
      for (let round = 0; round < 4; round += 1) {
        const writer = new Child(dir, 'write-loop');
        children.push(writer);
        // The child goes on from the stored value, so wait for two writes of its own.
        await writer.waitFor((lines) => lastCommitted(lines) >= stored + 2);
        if (round % 2 === 0) {
          await new Promise((resolve) => setTimeout(resolve, 3 + round * 5));
        } else {
          await untilTempFileAppears(dir);
        }
        await writer.kill();
        const committed = lastCommitted(writer.lines);
        if (tempFiles(dir).length > 0) killedMidWrite += 1;

        const store = await FileStore.open(dir);
        assert.deepEqual(tempFiles(dir), []);
        const raw = await store.get('big');
        assert.ok(raw !== undefined);
        const value = JSON.parse(raw) as { n: number; pad: string };
        // Durable on resolve: nothing the child saw committed is lost, and at most the write in flight landed.
        assert.ok(value.n >= committed && value.n <= committed + 1, `n=${value.n}, committed=${committed}`);
        assert.equal(value.pad.length, CRASH_VALUE_CHARS);
        assert.equal(raw, crashValue(value.n));
        for (const key of await store.list('small:')) {
          assert.ok(Number.isInteger((JSON.parse((await store.get(key)) ?? 'null') as { n: number }).n));
        }
        assert.deepEqual(
          (await store.list('')).filter((key) => !key.startsWith('small:')),
          ['big'],
        );
        stored = value.n;
        await store.close();
      }
      // Otherwise this test would prove nothing about torn writes.
      assert.ok(killedMidWrite > 0, 'no round killed the writer in the middle of a write');
    });
  });
});

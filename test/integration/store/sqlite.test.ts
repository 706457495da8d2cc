import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openSqliteDatabase, STATE_DATABASE_FILE } from '../../../src/store/sqlite-database.ts';
import { SqliteStore } from '../../../src/store/sqlite-store.ts';
import { StoreError } from '../../../src/store/store-error.ts';
import { CRASH_VALUE_CHARS, crashValue } from './store-child.ts';

const CHILD = fileURLToPath(new URL('./store-child.ts', import.meta.url));

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

/** A child process whose stdout lines can be awaited. */
class Child {
  readonly process: ChildProcess;
  readonly lines: string[] = [];
  readonly exited: Promise<void>;
  #stderr = '';
  #waiters: Array<() => void> = [];

  constructor(args: readonly string[]) {
    this.process = spawn(process.execPath, [CHILD, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
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

  get stderr(): string {
    return this.#stderr;
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

function lastCommitted(lines: readonly string[]): number {
  const committed = lines.filter((line) => line.startsWith('committed ')).map((line) => Number(line.slice(10)));
  return committed.length === 0 ? 0 : Math.max(...committed);
}

describe('SqliteStore', function () {
  this.timeout(60_000);
  let root: string;
  let dir: string;
  const children: Child[] = [];

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'gatehouse-sqlite-store-'));
    dir = join(root, 'state');
  });
  afterEach(async () => {
    for (const child of children.splice(0)) await child.kill();
    rmSync(root, { recursive: true, force: true });
  });

  it('creates its directory 0700 and the database with its WAL files 0600, whatever the umask', async () => {
    const previous = process.umask(0);
    try {
      const store = SqliteStore.open(dir);
      await store.put('ca', '{"keyPem":"secret"}');
      assert.equal(mode(dir), 0o700);
      for (const suffix of ['', '-wal', '-shm']) {
        const path = join(dir, STATE_DATABASE_FILE + suffix);
        assert.ok(existsSync(path), path);
        assert.equal(mode(path), 0o600, path);
      }
      await store.close();
    } finally {
      process.umask(previous);
    }
  });

  it('tightens an existing directory to 0700', async () => {
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    const store = SqliteStore.open(dir);
    assert.equal(mode(dir), 0o700);
    await store.close();
  });

  it('survives a reopen', async () => {
    const first = SqliteStore.open(dir);
    await first.put('ca', 'one');
    await first.put('connector:c-9', 'nine');
    await first.close();
    const second = SqliteStore.open(dir);
    assert.equal(await second.get('ca'), 'one');
    assert.deepEqual(await second.list('connector:'), ['connector:c-9']);
    await second.close();
  });

  it('refuses a path that is not a directory', () => {
    mkdirSync(root, { recursive: true });
    writeFileSync(dir, 'a file');
    assert.throws(
      () => SqliteStore.open(dir),
      (error: unknown) => error instanceof StoreError && error.code === 'ERR_STORE_UNUSABLE',
    );
  });

  it('shares one database with another part, which keeps it open after the store closes', async () => {
    const db = openSqliteDatabase(join(dir, STATE_DATABASE_FILE));
    db.exec('CREATE TABLE other (x INTEGER)');
    const store = new SqliteStore(db);
    await store.put('k', 'v');
    await store.close();
    assert.deepEqual({ ...db.prepare('SELECT value FROM kv').get() }, { value: 'v' });
    db.close();
  });

  it('lets two stores on one directory see and respect each other’s writes', async () => {
    const a = SqliteStore.open(dir);
    const b = SqliteStore.open(dir);
    assert.equal(await a.compareAndSet('ca', undefined, 'from a'), true);
    assert.equal(await b.compareAndSet('ca', undefined, 'from b'), false);
    assert.equal(await b.get('ca'), 'from a');
    await b.delete('ca');
    assert.equal(await a.get('ca'), undefined);
    await a.close();
    await b.close();
  });

  it('loses no update when two processes compare-and-set one key 200 times each', async () => {
    await SqliteStore.open(dir).close();
    const pair = [new Child([dir, 'increment', '200']), new Child([dir, 'increment', '200'])];
    children.push(...pair);
    for (const child of pair) await child.waitFor((lines) => lines.includes('ready'));
    // Both start at once, so their transactions interleave.
    for (const child of pair) child.process.stdin?.end('go\n');
    for (const child of pair) await child.exited;
    for (const child of pair) assert.equal(child.process.exitCode, 0, child.stderr);
    const wrote = pair.flatMap((child) => JSON.parse(child.lines.at(-1) ?? '[]') as number[]);
    // Every value from 1 to 400 written exactly once, by one of the two.
    assert.deepEqual(
      wrote.sort((x, y) => x - y),
      Array.from({ length: 400 }, (_, i) => i + 1),
    );
    const store = SqliteStore.open(dir);
    assert.equal(await store.get('counter'), '400');
    await store.close();
  });

  describe('crash safety', () => {
    it('after SIGKILL mid-write, every acknowledged write is there and no value is torn', async () => {
      let killedMidWrite = 0;
      let stored = 0;
      for (let round = 0; round < 6; round += 1) {
        const writer = new Child([dir, 'write-loop']);
        children.push(writer);
        // The child goes on from the stored value, so wait for two writes of its own.
        await writer.waitFor((lines) => lastCommitted(lines) >= stored + 2);
        await new Promise((resolve) => setTimeout(resolve, 3 + round * 7));
        await writer.kill();
        const committed = lastCommitted(writer.lines);
        if (writer.lines.at(-1)?.startsWith('writing ')) killedMidWrite += 1;

        const db = openSqliteDatabase(join(dir, STATE_DATABASE_FILE));
        assert.deepEqual({ ...db.prepare('PRAGMA integrity_check').get() }, { integrity_check: 'ok' });
        db.close();
        const store = SqliteStore.open(dir);
        const raw = await store.get('big');
        assert.ok(raw !== undefined);
        const value = JSON.parse(raw) as { n: number; pad: string };
        // Durable on resolve: nothing the child saw committed is lost, and at most the round in flight landed.
        assert.ok(value.n >= committed && value.n <= committed + 1, `n=${value.n}, committed=${committed}`);
        assert.equal(value.pad.length, CRASH_VALUE_CHARS);
        assert.equal(raw, crashValue(value.n));
        const count = Number(await store.get('count'));
        assert.ok(count === value.n || count === value.n - 1, `count=${count}, big=${value.n}`);
        assert.ok(count >= committed, `count=${count}, committed=${committed}`);
        for (const key of await store.list('small:')) {
          assert.ok(Number.isInteger((JSON.parse((await store.get(key)) ?? 'null') as { n: number }).n));
        }
        assert.deepEqual(
          (await store.list('')).filter((key) => !key.startsWith('small:')),
          ['big', 'count'],
        );
        stored = count;
        await store.close();
      }
      // Otherwise this test would prove nothing about torn writes.
      assert.ok(killedMidWrite > 0, 'no round killed the writer in the middle of a write');
    });
  });
});

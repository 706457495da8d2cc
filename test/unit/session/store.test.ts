import assert from 'node:assert/strict';
import { MAX_SESSION_SIDE_ENTRIES } from '../../../src/limits.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { anyRevoked, MemorySessionStore, type MemorySessionStoreOptions, type SessionStore } from '../../../src/session/session-store.ts';
import { SqliteSessionStore } from '../../../src/session/sqlite-session-store.ts';
import { openSqliteDatabase } from '../../../src/store/sqlite-database.ts';

/** One contract, every store: what a backend must do to stand in for another. */
function sessionStoreContract(name: string, open: (options?: MemorySessionStoreOptions) => SessionStore): void {
  describe(`${name}: the session store contract`, () => defineContract(open));
}

const contractDir = mkdtempSync(join(tmpdir(), 'gatehouse-session-contract-'));
const opened: DatabaseSync[] = [];
sessionStoreContract('MemorySessionStore', (options) => new MemorySessionStore(options));
sessionStoreContract('SqliteSessionStore', (options) => {
  const db = openSqliteDatabase(join(contractDir, `${opened.length}.db`));
  // Not flushed to the disk on every commit: the bound tests write 50,000 times; durability is the reopen test's business.
  db.exec('PRAGMA synchronous = OFF');
  opened.push(db);
  return new SqliteSessionStore(db, options);
});
after(() => {
  for (const db of opened) db.close();
  rmSync(contractDir, { recursive: true, force: true });
});

describe('SqliteSessionStore on disk', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-session-store-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps revocations, the fail-closed floor, used states and side data through a close and a reopen', async () => {
    const file = join(dir, 'state', 'gatehouse.db');
    const first = SqliteSessionStore.open(file, { maxRevoked: 2 });
    await first.revoke('signed-out', 100, 1000, 100);
    await first.revoke('b', 110, 1000, 110);
    await first.revoke('c', 120, 1000, 120);
    assert.equal(await first.consumeState('state-1', 1000, 100), true);
    assert.equal(await first.putSideData('carol', { idToken: 'carol-token', groups: ['a', 'b'] }, 1000, 100), true);
    first.close();

    const second = SqliteSessionStore.open(file, { maxRevoked: 2 });
    try {
      assert.equal(await second.isRevoked('c', 120, 200), true);
      assert.equal(await second.isRevoked('signed-out', 100, 200), true, 'evicted, still refused by the stored floor');
      assert.equal(await second.isRevoked('older', 90, 200), true);
      assert.equal(await second.isRevoked('newer', 130, 200), false);
      assert.equal(await second.consumeState('state-1', 1000, 200), false, 'a used state stays used');
      assert.deepEqual(await second.getSideData('carol', 200), { idToken: 'carol-token', groups: ['a', 'b'] });
      // The bounds count what the first opening left, not from zero.
      await second.revoke('d', 140, 1000, 200);
      assert.equal(await second.isRevoked('b', 110, 200), true);
    } finally {
      second.close();
    }
  });

  it("keeps the gate's negative answer for the rest of its second only, and drops it on any revocation of its own", async () => {
    const file = join(dir, 'gatehouse.db');
    const store = SqliteSessionStore.open(file, { maxRevoked: 2 });
    const other = SqliteSessionStore.open(file, { maxRevoked: 2 });
    try {
      const keys = Object.freeze(['s1', 'idp-sid.p1', 'idp-sub.u1']);
      assert.equal(await store.isAnyRevoked(keys, 150, 200), false);
      // Revoked through this store: refused at once, in the same second.
      await store.revoke('idp-sid.p1', 100, 1000, 200);
      assert.equal(await store.isAnyRevoked(keys, 150, 200), true);

      const later = Object.freeze(['s2', 'idp-sub.u2']);
      assert.equal(await store.isAnyRevoked(later, 90, 300), false);
      // The list overflows and the fail-closed floor rises past this session: refused at once too.
      await store.revoke('x', 160, 1000, 300);
      await store.revoke('y', 170, 1000, 300);
      assert.equal(await store.isAnyRevoked(later, 90, 300), true, 'under the raised floor (the oldest entry, issued at 100, was pushed out)');

      const third = Object.freeze(['s3', 'idp-sub.u3']);
      assert.equal(await store.isAnyRevoked(third, 250, 400), false);
      // Revoked by another process on the same file: seen from the next second.
      await other.revoke('s3', 250, 1000, 400);
      assert.equal(await store.isAnyRevoked(third, 250, 400), false, 'the answer read in this second');
      assert.equal(await store.isAnyRevoked(third, 250, 401), true);
    } finally {
      other.close();
      store.close();
    }
  });
});

function defineContract(open: (options?: MemorySessionStoreOptions) => SessionStore): void {
  it('remembers revocations until they expire', async () => {
    const store = open();
    await store.revoke('s1', 100, 200, 100);
    assert.equal(await store.isRevoked('s1', 100, 150), true);
    assert.equal(await store.isRevoked('s2', 100, 150), false);
    assert.equal(await store.isRevoked('s1', 100, 201), false);
  });

  it('fails closed when the revocation list overflows', async () => {
    const overflows: number[] = [];
    const store = open({ maxRevoked: 2, onRevocationOverflow: (t) => overflows.push(t) });
    await store.revoke('a', 10, 1000, 10);
    await store.revoke('b', 20, 1000, 20);
    await store.revoke('c', 30, 1000, 30);
    assert.deepEqual(overflows, [10]);
    // "a" was evicted, but every session issued at or before it is now refused.
    assert.equal(await store.isRevoked('a', 10, 40), true);
    assert.equal(await store.isRevoked('unrelated-old', 5, 40), true);
    assert.equal(await store.isRevoked('unrelated-new', 25, 40), false);
  });

  it('answers several keys at once (the gate asks a session, its provider session and its user) as it answers each', async () => {
    const store = open();
    const any = (keys: readonly string[], issuedAt: number, now: number): Promise<boolean> =>
      store.isAnyRevoked ? store.isAnyRevoked(keys, issuedAt, now) : anyRevoked(store, keys, issuedAt, now);
    const user = 'idp-sub.u1';
    await store.revoke('s1', 100, 1000, 100);
    await store.revoke('idp-sid.p1', 100, 1000, 100);
    // A user's logout at 300 ends the sessions issued until then, not those signed in after.
    await store.revoke(user, 300, 1000, 300);
    await store.revoke('gone', 100, 150, 100);
    assert.equal(await any(['s2', user], 250, 200), true);
    assert.equal(await any(['s2', user], 350, 200), false);
    assert.equal(await any(['s2', 'gone', 'idp-sid.p2'], 100, 200), false, 'an expired entry ends nothing');
    assert.equal(await any(['s2', 'idp-sid.p1', 'idp-sub.u2'], 350, 200), true);
    const names = ['s1', 's2', 'idp-sid.p1', 'idp-sid.p2', user, 'idp-sub.u2', 'gone'];
    for (const a of names)
      for (const b of names)
        for (const c of names)
          for (const length of [1, 2, 3])
            for (const issuedAt of [250, 350]) {
              const keys = [a, b, c].slice(0, length);
              const each = await Promise.all(keys.map((key) => store.isRevoked(key, issuedAt, 200)));
              assert.equal(await any(keys, issuedAt, 200), each.includes(true), `${keys.join(', ')} issued at ${issuedAt}`);
            }
    // The fail-closed floor counts for every key.
    const small = open({ maxRevoked: 1 });
    await small.revoke('a', 10, 1000, 10);
    await small.revoke('b', 20, 1000, 20);
    const anySmall = (keys: readonly string[], issuedAt: number): Promise<boolean> =>
      small.isAnyRevoked ? small.isAnyRevoked(keys, issuedAt, 40) : anyRevoked(small, keys, issuedAt, 40);
    assert.equal(await anySmall(['old', 'idp-sub.x'], 5), true);
    assert.equal(await anySmall(['new', 'idp-sub.x'], 25), false);
  });

  it('consumes a state once', async () => {
    const store = open();
    assert.equal(await store.consumeState('k', 100, 1), true);
    assert.equal(await store.consumeState('k', 100, 2), false);
  });

  it('bounds side data by refusing the newcomer, never by dropping a live entry', async () => {
    const full: number[] = [];
    const store = open({ maxSideEntries: 2, onSideDataFull: ({ entries }) => full.push(entries) });
    assert.equal(await store.putSideData('a', { idToken: 'a' }, 100, 1), true);
    assert.equal(await store.putSideData('b', { idToken: 'b' }, 100, 1), true);
    assert.equal(await store.putSideData('c', { idToken: 'c' }, 100, 1), false);
    assert.equal((await store.getSideData('a', 2))?.idToken, 'a');
    assert.equal(await store.getSideData('c', 2), undefined);
    assert.deepEqual(full, [2]);
  });

  it("keeps a user's group list through 50,000 other sign-ins at the default bound", async () => {
    const store = open();
    const groups = Array.from({ length: 300 }, (_, index) => `department-${index}`);
    assert.equal(await store.putSideData('carol', { idToken: 'carol-token', groups }, 10_000, 1), true);
    let refused = 0;
    for (let index = 0; index < 50_000; index += 1) {
      if (!(await store.putSideData(`other-${index}`, { idToken: 'x'.repeat(900) }, 10_000, 1))) refused += 1;
    }
    assert.equal(refused, 1, 'only sign-ins beyond the bound are refused');
    assert.equal(MAX_SESSION_SIDE_ENTRIES, 50_000);
    assert.deepEqual((await store.getSideData('carol', 2))?.groups, groups);
  });

  it('bounds side data by size too', async () => {
    const store = open({ maxSideBytes: 10_000 });
    assert.equal(await store.putSideData('a', { groups: Array.from({ length: 100 }, (_, i) => `group-${i}`) }, 100, 1), true);
    assert.equal(await store.putSideData('b', { groups: Array.from({ length: 200 }, (_, i) => `group-${i}`) }, 100, 1), false);
    assert.equal(await store.putSideData('c', { idToken: 'small' }, 100, 1), true);
    assert.equal((await store.getSideData('a', 2))?.groups?.length, 100);
  });

  it('makes room from expired entries only, wherever they sit', async () => {
    const store = open({ maxSideEntries: 20 });
    // Another app's longer sessions come first; the one short session sits behind them all.
    for (let index = 0; index < 19; index += 1) await store.putSideData(`long-${index}`, { idToken: 'a' }, 1000, 1);
    await store.putSideData('short-lived', { idToken: 'c' }, 50, 1);
    assert.equal(await store.putSideData('late', { idToken: 'd' }, 1000, 10), false, 'full, nothing expired');
    assert.equal(await store.putSideData('late', { idToken: 'd' }, 1000, 60), true, 'the expired entry made room');
    for (let index = 0; index < 19; index += 1) assert.equal((await store.getSideData(`long-${index}`, 60))?.idToken, 'a');
  });
}

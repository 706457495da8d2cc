/**
 * What every Store must do, as one set of cases each implementation runs:
 * memory and SQLite in test/unit/store/contract.test.ts, Redis in
 * test/integration/store/redis-store.test.ts.
 */
import assert from 'node:assert/strict';
import { MAX_STORE_KEY_LENGTH, MAX_STORE_VALUE_BYTES } from '../../src/limits.ts';
import type { Store } from '../../src/store/store.ts';
import { StoreError, type StoreErrorCode } from '../../src/store/store-error.ts';

/** A fresh, empty store and how to remove what it left behind. */
export interface OpenedStore {
  readonly store: Store;
  readonly cleanup: () => void | Promise<void>;
}

export async function rejectsWith(promise: Promise<unknown>, code: StoreErrorCode): Promise<void> {
  await assert.rejects(promise, (error: unknown) => error instanceof StoreError && error.code === code);
}

/** Adds one to a counter, retrying on conflict, as a connector-registry update would. */
export async function increment(store: Store, key: string): Promise<number> {
  for (;;) {
    const current = await store.get(key);
    const next = (current === undefined ? 0 : (JSON.parse(current) as number)) + 1;
    if (await store.compareAndSet(key, current, JSON.stringify(next))) return next;
  }
}

export function storeContract(name: string, make: () => Promise<OpenedStore>): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    let cleanup: () => void | Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await make());
    });
    afterEach(async () => {
      await store.close();
      await cleanup();
    });

    it('round-trips values and reports absent keys as undefined', async () => {
      assert.equal(await store.get('ca'), undefined);
      await store.put('ca', '{"certPem":"x"}');
      assert.equal(await store.get('ca'), '{"certPem":"x"}');
      await store.put('ca', '{"certPem":"y"}');
      assert.equal(await store.get('ca'), '{"certPem":"y"}');
      await store.put('empty', '');
      assert.equal(await store.get('empty'), '');
    });

    it('deletes, and deleting an absent key is fine', async () => {
      await store.put('connector:c-1', '{}');
      await store.delete('connector:c-1');
      assert.equal(await store.get('connector:c-1'), undefined);
      await store.delete('connector:c-1');
      await store.delete('never-there');
    });

    it('lists keys by prefix, sorted', async () => {
      for (const key of ['connector:c-2', 'connector:c-1', 'ca', 'connectors-meta', 'config:version']) {
        await store.put(key, '1');
      }
      assert.deepEqual(await store.list('connector:'), ['connector:c-1', 'connector:c-2']);
      assert.deepEqual(await store.list('conn'), ['connector:c-1', 'connector:c-2', 'connectors-meta']);
      assert.deepEqual(await store.list(''), ['ca', 'config:version', 'connector:c-1', 'connector:c-2', 'connectors-meta']);
      assert.deepEqual(await store.list('nothing'), []);
    });

    it('lists by a prefix holding SQL wildcards as plain characters', async () => {
      for (const key of ['a%b', 'a%', 'a_b', 'aXb', 'a\\b', 'a\\%', 'ab']) await store.put(key, '1');
      assert.deepEqual(await store.list('a%'), ['a%', 'a%b']);
      assert.deepEqual(await store.list('a_'), ['a_b']);
      assert.deepEqual(await store.list('a\\'), ['a\\%', 'a\\b']);
      assert.deepEqual(await store.list('a'), ['a%', 'a%b', 'aXb', 'a\\%', 'a\\b', 'a_b', 'ab']);
    });

    it('lists by a prefix holding glob and range characters as plain characters', async () => {
      for (const key of ['a*b', 'a*', 'a?', 'a[b]', 'a[', 'a]', 'a^', 'a-b', 'ab']) await store.put(key, '1');
      assert.deepEqual(await store.list('a*'), ['a*', 'a*b']);
      assert.deepEqual(await store.list('a?'), ['a?']);
      assert.deepEqual(await store.list('a['), ['a[', 'a[b]']);
      assert.deepEqual(await store.list('a'), ['a*', 'a*b', 'a-b', 'a?', 'a[', 'a[b]', 'a]', 'a^', 'ab']);
    });

    it('lists in JavaScript string order, beyond ASCII too', async () => {
      const keys = ['k:\u{1F600}', 'k:\uFF5E', 'k:z', 'k:\u00E9', 'k:'];
      for (const key of keys) await store.put(key, '1');
      assert.deepEqual(await store.list('k:'), [...keys].sort());
    });

    it('keeps keys apart that differ only in case, dots, slashes or non-ASCII characters', async () => {
      const keys = ['a', 'A', '.a', 'a.', '..', '.', 'a/b', 'a%2Fb', 'a:b', 'ü', 'u\u0308', '\u0000', 'x'.repeat(80)];
      for (const [index, key] of keys.entries()) await store.put(key, String(index));
      for (const [index, key] of keys.entries()) assert.equal(await store.get(key), String(index), JSON.stringify(key));
      assert.deepEqual((await store.list('')).sort(), [...keys].sort());
    });

    it('compareAndSet writes only over the expected value', async () => {
      assert.equal(await store.compareAndSet('v', 'something', '1'), false);
      assert.equal(await store.get('v'), undefined);
      assert.equal(await store.compareAndSet('v', undefined, '1'), true);
      assert.equal(await store.compareAndSet('v', undefined, '2'), false);
      assert.equal(await store.compareAndSet('v', '2', '3'), false);
      assert.equal(await store.compareAndSet('v', '1', '2'), true);
      assert.equal(await store.get('v'), '2');
    });

    it('lets exactly one of 50 concurrent creators win', async () => {
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => store.compareAndSet('ca', undefined, String(i))));
      assert.equal(results.filter(Boolean).length, 1);
      assert.equal(await store.get('ca'), String(results.indexOf(true)));
    });

    it('loses no update among 50 concurrent compare-and-set increments', async () => {
      const outcomes = await Promise.all(Array.from({ length: 50 }, () => increment(store, 'counter')));
      assert.equal(await store.get('counter'), '50');
      assert.deepEqual(
        [...outcomes].sort((a, b) => a - b),
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
    });

    it('refuses absurd keys and values with coded errors', async () => {
      for (const key of ['', 'x'.repeat(MAX_STORE_KEY_LENGTH + 1), 'lone \uD800 surrogate', 42 as unknown as string]) {
        await rejectsWith(store.put(key, '1'), 'ERR_STORE_KEY_INVALID');
        await rejectsWith(store.get(key), 'ERR_STORE_KEY_INVALID');
      }
      await rejectsWith(store.list('lone \uD800'), 'ERR_STORE_KEY_INVALID');
      await rejectsWith(store.put('k', 'x'.repeat(MAX_STORE_VALUE_BYTES + 1)), 'ERR_STORE_VALUE_INVALID');
      await rejectsWith(store.put('k', '\uDC00'), 'ERR_STORE_VALUE_INVALID');
      await rejectsWith(store.compareAndSet('k', undefined, undefined as unknown as string), 'ERR_STORE_VALUE_INVALID');
      assert.equal(await store.get('k'), undefined);
    });

    it('refuses every call once closed', async () => {
      await store.put('k', '1');
      await store.close();
      await rejectsWith(store.get('k'), 'ERR_STORE_CLOSED');
      await rejectsWith(store.put('k', '2'), 'ERR_STORE_CLOSED');
      await rejectsWith(store.list(''), 'ERR_STORE_CLOSED');
      await rejectsWith(store.compareAndSet('k', '1', '2'), 'ERR_STORE_CLOSED');
      await rejectsWith(store.delete('k'), 'ERR_STORE_CLOSED');
    });
  });
}

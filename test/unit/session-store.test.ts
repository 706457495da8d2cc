import assert from 'node:assert/strict';
import { MemorySessionStore } from '../../src/session/session-store.ts';

describe('MemorySessionStore', () => {
  it('remembers revocations until they expire', async () => {
    const store = new MemorySessionStore();
    await store.revoke('s1', 100, 200, 100);
    assert.equal(await store.isRevoked('s1', 100, 150), true);
    assert.equal(await store.isRevoked('s2', 100, 150), false);
    assert.equal(await store.isRevoked('s1', 100, 201), false);
  });

  it('fails closed when the revocation list overflows', async () => {
    const overflows: number[] = [];
    const store = new MemorySessionStore({ maxRevoked: 2, onRevocationOverflow: (t) => overflows.push(t) });
    await store.revoke('a', 10, 1000, 10);
    await store.revoke('b', 20, 1000, 20);
    await store.revoke('c', 30, 1000, 30);
    assert.deepEqual(overflows, [10]);
    // "a" was evicted, but every session issued at or before it is now refused.
    assert.equal(await store.isRevoked('a', 10, 40), true);
    assert.equal(await store.isRevoked('unrelated-old', 5, 40), true);
    assert.equal(await store.isRevoked('unrelated-new', 25, 40), false);
  });

  it('consumes a state once', async () => {
    const store = new MemorySessionStore();
    assert.equal(await store.consumeState('k', 100, 1), true);
    assert.equal(await store.consumeState('k', 100, 2), false);
  });

  it('bounds side data', async () => {
    const store = new MemorySessionStore({ maxSideEntries: 2 });
    await store.putSideData('a', { idToken: 'a' }, 100, 1);
    await store.putSideData('b', { idToken: 'b' }, 100, 1);
    await store.putSideData('c', { idToken: 'c' }, 100, 1);
    assert.equal(await store.getSideData('a', 2), undefined);
    assert.equal((await store.getSideData('c', 2))?.idToken, 'c');
  });
});

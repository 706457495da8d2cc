import assert from 'node:assert/strict';
import { InstanceRegistry, type GatewayInstance } from '../../../src/connector-plane/instance-registry.ts';
import { createLogger } from '../../../src/logging/logger.ts';
import { MemoryStore } from '../../../src/store/memory-store.ts';
import { createTestClock } from '../../support/clock.ts';

describe('instance registry: the gateway instances sharing one store', () => {
  const clock = createTestClock();
  afterEach(() => clock.reset());

  function registry(store: MemoryStore, id: string, changes: Array<readonly GatewayInstance[]> = []): InstanceRegistry {
    return new InstanceRegistry({
      store,
      id,
      url: `https://${id}.internal:8444`,
      clock,
      logger: createLogger(),
      heartbeatMs: 60_000,
      ttlMs: 10_000,
      onChange: (live) => changes.push(live),
    });
  }

  it('lists every live instance, sorted, and tells each when the set changed', async () => {
    const store = new MemoryStore();
    const changesA: Array<readonly GatewayInstance[]> = [];
    const a = registry(store, 'gw-a', changesA);
    const b = registry(store, 'gw-b');
    await a.start();
    assert.deepEqual(a.live(), [{ id: 'gw-a', url: 'https://gw-a.internal:8444' }]);
    assert.equal(changesA.length, 0, 'alone, as it started: nothing changed');
    await b.start();
    assert.deepEqual(
      b.live().map((instance) => instance.id),
      ['gw-a', 'gw-b'],
    );
    await a.heartbeat();
    assert.deepEqual(
      changesA.at(-1)?.map((instance) => instance.id),
      ['gw-a', 'gw-b'],
    );
    await a.heartbeat();
    assert.equal(changesA.length, 1, 'the same set again is no change');
    await a.close();
    await b.close();
  });

  it('drops an instance not heard from within the TTL, and deletes its record; a clean stop deletes its own at once', async () => {
    const store = new MemoryStore();
    const a = registry(store, 'gw-a');
    const b = registry(store, 'gw-b');
    const c = registry(store, 'gw-c');
    await a.start();
    await b.start();
    await c.start();
    clock.advance(11_000);
    await c.heartbeat();
    await b.heartbeat();
    assert.deepEqual(
      b.live().map((instance) => instance.id),
      ['gw-b', 'gw-c'],
      'a missed its heartbeats: gone',
    );
    assert.equal(await store.get('instance:gw-a'), undefined);
    await c.close();
    await b.heartbeat();
    assert.deepEqual(
      b.live().map((instance) => instance.id),
      ['gw-b'],
    );
    await b.close();
    assert.deepEqual(await store.list('instance:'), []);
    await a.close();
  });

  it('keeps its last list when the store does not answer, and always counts itself', async () => {
    const store = new MemoryStore();
    const a = registry(store, 'gw-a');
    await a.start();
    await store.close();
    await a.heartbeat();
    assert.deepEqual(
      a.live().map((instance) => instance.id),
      ['gw-a'],
    );
    await a.close();
  });
  it('deletes a record it cannot read, but never one its owner renewed while it was deciding', async () => {
    /** The owner of an expired record renews it just before the reader's delete lands. */
    class RenewingStore extends MemoryStore {
      renew: (() => Promise<void>) | undefined;
      override async compareAndSet(key: string, expected: string | undefined, next: string): Promise<boolean> {
        const renew = this.renew;
        this.renew = undefined;
        await renew?.();
        return super.compareAndSet(key, expected, next);
      }
    }
    const store = new RenewingStore();
    await store.put('instance:junk', 'not json');
    const a = registry(store, 'gw-a');
    const b = registry(store, 'gw-b');
    await a.start();
    assert.equal(await store.get('instance:junk'), undefined, 'unreadable: gone');
    await b.start();
    clock.advance(11_000);
    store.renew = () => b.heartbeat();
    await a.heartbeat();
    assert.ok(await store.get('instance:gw-b'), 'renewed meanwhile: kept');
    await a.heartbeat();
    assert.deepEqual(
      a.live().map((instance) => instance.id),
      ['gw-a', 'gw-b'],
    );
    await a.close();
    await b.close();
  });

  it('reads the store afresh for a pull, between heartbeats, and never hands a caller a read that began before it asked', async () => {
    const store = new MemoryStore();
    const changes: Array<readonly GatewayInstance[]> = [];
    const a = registry(store, 'gw-a', changes);
    const b = registry(store, 'gw-b');
    await a.start();
    await b.start();
    assert.deepEqual(
      a.live().map((instance) => instance.id),
      ['gw-a'],
      'no heartbeat of a since b started',
    );
    // What a connector told of b by b, pulling through a balancer that sends it to a, must get.
    assert.deepEqual(
      (await a.fresh()).map((instance) => instance.id),
      ['gw-a', 'gw-b'],
    );
    assert.deepEqual(
      changes.at(-1)?.map((instance) => instance.id),
      ['gw-a', 'gw-b'],
      'a tells its own connectors too',
    );
    const early = a.fresh();
    // Recorded while that read is under way (after it listed the keys): a caller asking now must see it.
    const written = store.put('instance:gw-c', JSON.stringify({ id: 'gw-c', url: 'https://gw-c.internal:8444', expiresAt: clock() + 5_000 }));
    const late = a.fresh();
    await written;
    assert.deepEqual(
      (await early).map((instance) => instance.id),
      ['gw-a', 'gw-b'],
    );
    assert.deepEqual(
      (await late).map((instance) => instance.id),
      ['gw-a', 'gw-b', 'gw-c'],
    );
    await a.close();
    await b.close();
  });

  it('keeps one read at a time however many pull at once', async () => {
    class CountingStore extends MemoryStore {
      lists = 0;
      override list(prefix: string): Promise<string[]> {
        this.lists += 1;
        return super.list(prefix);
      }
    }
    const store = new CountingStore();
    const a = registry(store, 'gw-a');
    await a.start();
    await store.put('instance:gw-b', JSON.stringify({ id: 'gw-b', url: 'https://gw-b.internal:8444', expiresAt: clock() + 5_000 }));
    store.lists = 0;
    const answers = await Promise.all(Array.from({ length: 50 }, () => a.fresh()));
    for (const answer of answers)
      assert.deepEqual(
        answer.map((instance) => instance.id),
        ['gw-a', 'gw-b'],
      );
    assert.ok(store.lists <= 2, `${store.lists} reads for 50 pulls`);
    await a.close();
  });
});

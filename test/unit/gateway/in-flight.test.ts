import assert from 'node:assert/strict';
import { InFlight } from '../../../src/gateway/in-flight.ts';

describe('gateway: what a server has in flight', () => {
  it('counts and lists what was added and not removed, newest first', () => {
    const list = new InFlight<{ id: number }>();
    const [a, b, c] = [{ id: 1 }, { id: 2 }, { id: 3 }];
    const removeA = list.add(a);
    const removeB = list.add(b);
    list.add(c);
    assert.equal(list.size, 3);
    assert.deepEqual([...list], [c, b, a]);
    removeB();
    assert.deepEqual([...list], [c, a]);
    removeA();
    assert.deepEqual([...list], [c]);
    assert.equal(list.size, 1);
  });

  it('removes an entry once: a second call changes nothing', () => {
    const list = new InFlight<object>();
    const remove = list.add({});
    list.add({});
    remove();
    remove();
    assert.equal(list.size, 1);
    assert.equal([...list].length, 1);
  });

  it('walks what was in flight when the walk began, whatever the caller removes meanwhile', () => {
    const list = new InFlight<{ id: number }>();
    const removers = new Map<number, () => void>();
    for (let id = 0; id < 5; id++) removers.set(id, list.add({ id }));
    const seen: number[] = [];
    for (const value of list) {
      seen.push(value.id);
      removers.get(value.id)!();
      // The next entry, and one further on, go while the walk is on them.
      if (value.id === 3) removers.get(2)!();
      if (value.id === 3) removers.get(0)!();
    }
    assert.deepEqual(seen, [4, 3, 2, 1, 0]);
    assert.equal(list.size, 0);
    assert.deepEqual([...list], []);
  });

  it('is empty again after many requests came and went, and takes new ones', () => {
    const list = new InFlight<object>();
    const open: Array<() => void> = [];
    for (let i = 0; i < 10_000; i++) {
      open.push(list.add({}));
      if (open.length > 16) open.shift()!();
    }
    assert.equal(list.size, 16);
    for (const remove of open) remove();
    assert.equal(list.size, 0);
    list.add({});
    assert.equal(list.size, 1);
  });
});

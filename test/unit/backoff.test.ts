import assert from 'node:assert/strict';
import { backoffCeiling, createBackoff } from '../../src/backoff.ts';

describe('connector reconnect backoff', function () {
  const baseMs = 500;
  const capMs = 30_000;

  it('doubles its ceiling from the base up to the cap', function () {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 60, 2000].map((attempt) => backoffCeiling(attempt, baseMs, capMs)),
      [500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000, 30_000, 30_000],
    );
  });

  it('draws full jitter in [0, min(cap, base·2^n)] at every attempt', function () {
    const edges = [0, 0.999_999_999, 1];
    for (const edge of edges) {
      const backoff = createBackoff({ baseMs, capMs, random: () => edge });
      for (let attempt = 0; attempt < 40; attempt++) {
        const delay = backoff.next();
        const ceiling = backoffCeiling(attempt, baseMs, capMs);
        assert.ok(delay >= 0 && delay <= ceiling, `attempt ${attempt}: ${delay} not in [0, ${ceiling}]`);
        if (edge === 0) assert.equal(delay, 0);
        else assert.ok(delay >= ceiling - 1, `attempt ${attempt}: the top of the range is reachable`);
      }
    }
    const real = createBackoff({ baseMs, capMs });
    for (let attempt = 0; attempt < 1000; attempt++) {
      const delay = real.next();
      assert.ok(Number.isInteger(delay) && delay >= 0 && delay <= backoffCeiling(attempt, baseMs, capMs));
    }
  });

  it('keeps a misbehaving random source within bounds', function () {
    for (const value of [-5, 7, Number.NaN]) {
      const delay = createBackoff({ baseMs, capMs, random: () => value }).next();
      assert.ok(delay >= 0 && delay <= baseMs, `random() = ${value} gave ${delay}`);
    }
  });

  it('counts attempts and starts small again after a reset', function () {
    const backoff = createBackoff({ baseMs, capMs, random: () => 0.5 });
    assert.deepEqual([backoff.next(), backoff.next(), backoff.next()], [250, 500, 1000]);
    assert.equal(backoff.attempt, 3);
    backoff.reset();
    assert.equal(backoff.attempt, 0);
    assert.equal(backoff.next(), 250);
  });

  it('refuses nonsense options', function () {
    assert.throws(() => createBackoff({ baseMs: 0, capMs: 10 }), /baseMs/);
    assert.throws(() => createBackoff({ baseMs: 100, capMs: 10 }), /capMs/);
  });
});

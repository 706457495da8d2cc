/**
 * bench/lib/rounds.ts: rounds combined by the median of each figure, not by the best round,
 * and the range printed next to it.
 */
import assert from 'node:assert/strict';
import { combineRounds, median, rotate, withRange } from '../../../bench/lib/rounds.ts';
import type { GetRecord } from '../../../bench/lib/report-json.ts';

const run = (rps: number, servingUs: number, errors = 0): GetRecord => ({
  rps,
  p50Ms: rps / 1000,
  p99Ms: rps / 100,
  errors,
  requests: rps * 10,
  cpu: { proxy: servingUs / 100, connector: 0, store: 0, backend: 0.2, loadgen: 0.3, rest: 0.1 },
  cpuUsPerRequest: { serving: servingUs, backend: 10 },
});

const f0 = (n: number): string => Math.round(n).toLocaleString('en-US');

describe('bench rounds: median and range', () => {
  it('takes the median, not the best round, of every figure on its own', () => {
    const combined = combineRounds([run(5_900, 80), run(5_100, 120), run(5_566, 100)]);
    assert.equal(combined.rps, 5_566);
    assert.equal(combined.p99Ms, 55.66);
    assert.equal(combined.cpuUsPerRequest.serving, 100);
    assert.equal(combined.cpu.proxy, 1);
    assert.deepEqual(combined.range?.rps, [5_100, 5_900]);
    assert.deepEqual(combined.range?.servingUs, [80, 120]);
    assert.equal(combined.range?.rounds, 3);
  });

  it('sums errors and requests over the rounds', () => {
    const combined = combineRounds([run(1_000, 50, 2), run(2_000, 50, 1)]);
    assert.equal(combined.errors, 3);
    assert.equal(combined.requests, 30_000);
    assert.equal(combined.rps, 1_500);
  });

  it('leaves a single round as it is, without a range', () => {
    const combined = combineRounds([run(4_000, 70)]);
    assert.equal(combined.rps, 4_000);
    assert.equal(withRange(combined.rps, combined.range?.rps, f0), '4,000');
    assert.equal(combined.range, undefined);
  });

  it('prints the median with the lowest and highest round', () => {
    const combined = combineRounds([run(5_900, 80), run(5_100, 120), run(5_566, 100)]);
    assert.equal(withRange(combined.rps, combined.range?.rps, f0), '5,566 (5,100–5,900)');
  });

  it('has no median of nothing', () => {
    assert.ok(Number.isNaN(median([])));
    assert.throws(() => combineRounds([]));
  });

  it('rotates the order of the variants by one each round, each variant once per round', () => {
    const variants = ['a', 'b', 'c'];
    assert.deepEqual(rotate(variants, 0), ['a', 'b', 'c']);
    assert.deepEqual(rotate(variants, 1), ['b', 'c', 'a']);
    assert.deepEqual(rotate(variants, 2), ['c', 'a', 'b']);
    assert.deepEqual(rotate(variants, 3), ['a', 'b', 'c']);
    // Over as many rounds as variants, each is first once.
    assert.deepEqual([0, 1, 2].map((round) => rotate(variants, round)[0]).sort(), variants);
  });
});

import assert from 'node:assert/strict';
import fc from 'fast-check';
import { durationSeconds, parseDurationSeconds } from '../../../src/config/duration.ts';
import { fuzzTimeout, runs } from '../../support/fuzz-runs.ts';

/** Durations in the configuration: every spelling written the documented way parses to its seconds; anything else is refused. */

const UNITS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;
type Unit = keyof typeof UNITS;

/** The shortest spelling of a number of seconds in the largest unit that divides it. */
function formatDuration(seconds: number): string {
  for (const unit of ['d', 'h', 'm'] as const) if (seconds % UNITS[unit] === 0) return `${seconds / UNITS[unit]}${unit}`;
  return `${seconds}s`;
}

describe('fuzz: configuration durations', function () {
  this.timeout(fuzzTimeout(20_000));

  it('format then parse gives back the seconds, in every unit and as a bare number', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 ** 9 }), fc.constantFrom<Unit>('s', 'm', 'h', 'd'), (amount, unit) => {
        const seconds = amount * UNITS[unit];
        assert.equal(parseDurationSeconds(`${amount}${unit}`), seconds);
        assert.equal(parseDurationSeconds(` ${amount}${unit}\n`), seconds);
        assert.equal(parseDurationSeconds(formatDuration(seconds)), seconds);
        assert.equal(parseDurationSeconds(seconds), seconds);
        assert.equal(durationSeconds('1h').parse(`${amount}${unit}`), seconds);
      }),
      runs(1000),
    );
  });

  it('junk is refused, never thrown, never a non-positive or unsafe number', () => {
    const junk = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 20 }),
      fc.tuple(fc.stringMatching(/^[-+0-9.eE_ x]{0,8}$/), fc.constantFrom('', 's', 'm', 'h', 'd', 'S', 'ms', 'w', 'y', 'min', ' s')).map(([a, b]) => a + b),
      fc.double().map(String),
    );
    fc.assert(
      fc.property(fc.oneof(junk, fc.double(), fc.integer()), (value) => {
        const seconds = parseDurationSeconds(value);
        if (seconds !== undefined) {
          assert.ok(Number.isSafeInteger(seconds) && seconds > 0, `${String(value)} → ${seconds}`);
          // Accepted text is exactly digits and one unit, or a positive whole number.
          if (typeof value === 'string') assert.match(value.trim(), /^\d+[smhd]$/);
          else assert.ok(Number.isSafeInteger(value) && value > 0);
        }
        const parsed = durationSeconds('1h').safeParse(value);
        assert.equal(parsed.success, seconds !== undefined);
      }),
      runs(2000),
    );
  });

  it('a bound is kept: nothing above it is accepted', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 ** 6 }), fc.integer({ min: 1, max: 10 ** 7 }), (bound, seconds) => {
        assert.equal(durationSeconds('1h', bound).safeParse(seconds).success, seconds <= bound);
      }),
      runs(500),
    );
  });
});

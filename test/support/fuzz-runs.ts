import type fc from 'fast-check';

/**
 * How hard the fuzz suites try. `FUZZ_RUNS` multiplies every property's run count (default 1: the quick pass that
 * runs with the unit tests); `FUZZ_SEED` (with `FUZZ_PATH`) replays the failure fast-check printed, see docs/fuzzing.md.
 */
export const FUZZ_MULTIPLIER = multiplier(process.env['FUZZ_RUNS']);

function multiplier(raw: string | undefined): number {
  const value = Number(raw ?? '1');
  return Number.isFinite(value) && value > 0 ? value : 1;
}

/** fast-check parameters for a property that runs `base` cases in the quick pass. */
export function runs<T = unknown>(base: number): fc.Parameters<T> {
  const seed = process.env['FUZZ_SEED'];
  const path = process.env['FUZZ_PATH'];
  return {
    numRuns: Math.max(1, Math.round(base * FUZZ_MULTIPLIER)),
    ...(seed !== undefined && seed !== '' ? { seed: Number(seed) } : {}),
    ...(path !== undefined && path !== '' ? { path } : {}),
  };
}

/** A mocha timeout that grows with the run count. */
export function fuzzTimeout(baseMs: number): number {
  return Math.round(baseMs * Math.max(1, FUZZ_MULTIPLIER));
}

/**
 * A second process on the state database, for sqlite.test.ts: a service
 * writing state when it is killed, or one of two services updating one key.
 *
 *   node store-child.ts <dir> write-loop       writes forever, printing "writing <n>" before and "committed <n>" after each round
 *   node store-child.ts <dir> increment <k>    prints "ready", waits for a line on stdin, then adds one to "counter" k times
 *                                              by compare-and-set, printing the values it wrote as one JSON line
 */
import { createInterface } from 'node:readline';
import { SqliteStore } from '../../../src/store/sqlite-store.ts';
import type { Store } from '../../../src/store/store.ts';

/** Large enough that most of the time is spent inside a write. */
export const CRASH_VALUE_CHARS = 4 * 1024 * 1024;

const pads = new Map<number, string>();

/**
 * Every value is self-checking: its padding is derived from its sequence
 * number. Pads are cached so that the writer spends its time writing.
 */
export function crashValue(n: number): string {
  const letter = n % 26;
  let pad = pads.get(letter);
  if (pad === undefined) {
    pad = String.fromCharCode(97 + letter).repeat(CRASH_VALUE_CHARS);
    pads.set(letter, pad);
  }
  return `{"n":${n},"pad":"${pad}"}`;
}

/** Adds one to a counter, retrying on conflict, as a connector-registry update would. */
export async function increment(store: Store, key: string): Promise<number> {
  for (;;) {
    const current = await store.get(key);
    const next = (current === undefined ? 0 : (JSON.parse(current) as number)) + 1;
    if (await store.compareAndSet(key, current, JSON.stringify(next))) return next;
  }
}

async function writeLoop(store: Store): Promise<void> {
  // Goes on from what is stored, so every round of the test continues one sequence.
  const stored = await store.get('count');
  for (let n = (stored === undefined ? 0 : Number(stored)) + 1; ; n += 1) {
    // stdout is a pipe, written synchronously: the line is out before the write starts.
    process.stdout.write(`writing ${n}\n`);
    await store.put('big', crashValue(n));
    if (!(await store.compareAndSet('count', n === 1 ? undefined : String(n - 1), String(n)))) throw new Error(`count is not ${n - 1}`);
    await store.put(`small:${n % 4}`, JSON.stringify({ n }));
    process.stdout.write(`committed ${n}\n`);
  }
}

async function incrementLoop(store: Store, times: number): Promise<void> {
  process.stdout.write('ready\n');
  const lines = createInterface({ input: process.stdin });
  await new Promise((resolve) => lines.once('line', resolve));
  lines.close();
  const wrote: number[] = [];
  for (let i = 0; i < times; i += 1) wrote.push(await increment(store, 'counter'));
  process.stdout.write(`${JSON.stringify(wrote)}\n`);
  await store.close();
}

// Imported by the test for crashValue; only run as a program.
const [dir, mode, times] = process.argv.slice(2);
if (import.meta.main && dir !== undefined) {
  const store = SqliteStore.open(dir);
  const run = mode === 'increment' ? incrementLoop(store, Number(times)) : writeLoop(store);
  run.catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}

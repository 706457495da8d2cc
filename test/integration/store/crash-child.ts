/**
 * A second process for store-file.test.ts: a service writing state when it is
 * killed, or a service holding the state directory's lock.
 *
 *   node store-crash-child.ts <dir> write-loop   puts large values forever, printing "committed <n>" after each
 *   node store-crash-child.ts <dir> hold         opens the store, prints "ready", waits to be killed
 */
import { FileStore } from '../../../src/store/file-store.ts';

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

async function main(dir: string, mode: string): Promise<void> {
  const store = await FileStore.open(dir);
  if (mode === 'hold') {
    process.stdout.write('ready\n');
    setInterval(() => undefined, 60_000);
    return;
  }
  const start = (JSON.parse((await store.get('big')) ?? '{"n":0}') as { n: number }).n + 1;
  for (let n = start; ; n += 1) {
    await store.put('big', crashValue(n));
    await store.put(`small:${n % 4}`, JSON.stringify({ n }));
    process.stdout.write(`committed ${n}\n`);
  }
}

// Imported by the test for crashValue; only run as a program.
const [dir, mode] = process.argv.slice(2);
if (import.meta.main && dir !== undefined && mode !== undefined) {
  main(dir, mode).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}

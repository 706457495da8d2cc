import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runNode, watchProcessOutput } from '../../dev/lib/processes.ts';

describe('dev/lib/processes: what started processes print reaches the watchers (the log scan)', () => {
  it('tells each whole line of stdout and stderr once, a line written in pieces as one, and stops when asked', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-processes-'));
    try {
      const script = join(dir, 'print.mjs');
      writeFileSync(
        script,
        `process.stdout.write('first line\\nsecond ');
setTimeout(() => { process.stdout.write('half\\n'); process.stderr.write('on stderr\\nno newline at the end'); }, 50);
`,
      );
      const seen: string[] = [];
      const stop = watchProcessOutput((line, from) => {
        if (from === script) seen.push(line);
      });
      const result = await runNode(script, []);
      assert.equal(result.code, 0);
      assert.deepEqual(seen.sort(), ['first line', 'no newline at the end', 'on stderr', 'second half']);
      stop();
      await runNode(script, []);
      assert.equal(seen.length, 4, 'nothing after the watcher stopped');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeTempFiles, renameDurably, syncDirectory, TEMP_PREFIX, writeFileAtomic } from '../../../src/store/atomic-file.ts';

describe('atomic files (connector state)', function () {
  let dir: string;

  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-atomic-'));
  });

  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it('replaces a file whole, with the mode stated (0600 by default), and leaves no temp file', async function () {
    const path = join(dir, 'connector.json');
    writeFileSync(path, 'old');
    await writeFileAtomic(path, 'new');
    assert.equal(readFileSync(path, 'utf8'), 'new');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    await writeFileAtomic(path, 'public', 0o644);
    assert.equal(statSync(path).mode & 0o777, 0o644);
    assert.deepEqual(readdirSync(dir), ['connector.json']);
  });

  it('renames durably, and removes only the temp files a killed writer left', async function () {
    await writeFileAtomic(join(dir, 'key.next'), 'k');
    await renameDurably(join(dir, 'key.next'), join(dir, 'key'));
    writeFileSync(join(dir, `${TEMP_PREFIX}0123456789abcdef`), '{"half":');
    writeFileSync(join(dir, '.lock'), '');
    assert.equal(await removeTempFiles(dir), 1);
    assert.deepEqual(readdirSync(dir).sort(), ['.lock', 'key']);
  });

  it('never opens a directory for fsync on Windows, which cannot (the connector did)', async function () {
    const platform = Object.getOwnPropertyDescriptor(process, 'platform')!;
    const missing = join(dir, 'not-there');
    await assert.rejects(syncDirectory(missing), { code: 'ENOENT' });
    Object.defineProperty(process, 'platform', { ...platform, value: 'win32' });
    try {
      await syncDirectory(missing);
    } finally {
      Object.defineProperty(process, 'platform', platform);
    }
  });
});

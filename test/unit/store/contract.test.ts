import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore } from '../../../src/store/memory-store.ts';
import { SqliteStore } from '../../../src/store/sqlite-store.ts';
import { storeContract } from '../../support/store-contract.ts';

storeContract('MemoryStore', () => Promise.resolve({ store: new MemoryStore(), cleanup: () => undefined }));

storeContract('SqliteStore', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-store-'));
  return Promise.resolve({ store: SqliteStore.open(join(dir, 'state')), cleanup: () => rmSync(dir, { recursive: true, force: true }) });
});

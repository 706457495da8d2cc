import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AuditEvent } from '../../src/audit/events.ts';
import { openSqliteDatabase } from '../../src/store/sqlite-database.ts';
import { freePort } from '../support/free-port.ts';
import { startRedisServer } from '../support/redis-server.ts';

const CHILD = fileURLToPath(new URL('./audit-outbox-child.ts', import.meta.url));

/** Runs the child; resolves with its stdout lines once `until` holds for them (or it exits). */
function runChild(args: readonly string[], until: (lines: readonly string[]) => boolean): { process: ChildProcess; lines: Promise<string[]> } {
  const child = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const done = new Promise<string[]>((resolve, reject) => {
    let partial = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      lines.push(...parts);
      if (until(lines)) resolve(lines);
    });
    child.once('close', () => (until(lines) ? resolve(lines) : reject(new Error(`child exited early: ${stderr}`))));
  });
  return { process: child, lines: done };
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const closed = once(child, 'close');
  child.kill('SIGKILL');
  await closed;
}

describe('audit webhook outbox: a crash while the receiver is down loses nothing', function () {
  this.timeout(60_000);
  let root: string;
  let receiver: Server | undefined;
  const children: ChildProcess[] = [];

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'gatehouse-audit-outbox-'));
  });
  afterEach(async () => {
    for (const child of children.splice(0)) await kill(child);
    if (receiver) {
      receiver.closeAllConnections();
      receiver.close();
      await once(receiver, 'close');
      receiver = undefined;
    }
    rmSync(root, { recursive: true, force: true });
  });

  async function crashThenDrain(extra: readonly string[], store = join(root, 'state', 'gatehouse.db')): Promise<{ ids: string[]; received: AuditEvent[] }> {
    const database = store;
    // The receiver's port is known but nothing listens on it yet: every POST is refused.
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/ingest`;
    const writer = runChild(['write', database, url, '50', ...extra], (lines) => lines.filter((line) => line.startsWith('failed ')).length >= 2);
    children.push(writer.process);
    const lines = await writer.lines;
    const ids = JSON.parse((lines.find((line) => line.startsWith('written ')) ?? 'written []').slice(8)) as string[];
    assert.equal(ids.length, 50);
    await kill(writer.process);

    const received: AuditEvent[] = [];
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        received.push(...(JSON.parse(Buffer.concat(chunks).toString('utf8')) as AuditEvent[]));
        res.writeHead(204).end();
      });
    });
    receiver.listen(port, '127.0.0.1');
    await once(receiver, 'listening');

    const drainer = runChild(['drain', database, url, ...extra, ...(database.startsWith('redis://') ? [String(ids.length)] : [])], (output) =>
      output.some((line) => line.startsWith('drained ')),
    );
    children.push(drainer.process);
    await drainer.lines;
    return { ids, received };
  }

  it('a new process on the same database delivers every event, in order, each id once', async () => {
    const { ids, received } = await crashThenDrain([]);
    // At-least-once is the promise; here nothing was acknowledged before the crash, so nothing may come twice either.
    assert.deepEqual(
      received.map((event) => event.id),
      ids,
    );
    const db = openSqliteDatabase(join(root, 'state', 'gatehouse.db'));
    try {
      assert.equal((db.prepare('SELECT count(*) AS pending FROM audit_outbox').get() as { pending: number }).pending, 0);
    } finally {
      db.close();
    }
  });

  it('on Redis: a new process (a new instance id) adopts the dead one’s events once its lease lapsed, and delivers each once, in order', async () => {
    const redis = await startRedisServer();
    try {
      const { ids, received } = await crashThenDrain([], redis.url);
      assert.deepEqual(
        received.map((event) => event.id),
        ids,
      );
    } finally {
      await redis.close();
    }
  });

  it('with the queue in memory the same crash loses them (what the outbox is for)', async () => {
    const { received } = await crashThenDrain(['memory']);
    assert.equal(received.length, 0);
  });
});

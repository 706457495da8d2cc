/**
 * A redis-server for the benchmark's Redis variant: Debian's binary on a free
 * loopback port, with its own temporary directory and no persistence, and
 * its command counters read over a plain connection (one INFO, nothing else:
 * no client library that would add commands of its own).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parseCommandStats, type CommandCounts } from './redis-commandstats.ts';

export interface BenchRedis {
  readonly pid: number;
  /** redis://127.0.0.1:<port> */
  readonly url: string;
  /** Calls per command since the server started. */
  commandStats(): Promise<CommandCounts>;
  /** Stops the server and removes its directory. */
  close(): Promise<void>;
}

export const hasRedisServer = (): boolean => spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).error === undefined;

export async function startRedis(): Promise<BenchRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-redis-'));
  const port = await freePort();
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'no',
    '--protected-mode',
    'yes',
    '--loglevel',
    'warning',
  ];
  const child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<never>((_, reject) => {
    child.once('error', (error) =>
      reject(new Error(`redis-server did not start (${error.message}): apt-get install -y redis-server, or run the bench with --no-redis`)),
    );
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${stderr.trim()}`)));
  });
  exited.catch(() => undefined);
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await gone;
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.race([untilPong(port), exited]);
  } catch (error) {
    await close();
    throw error;
  }
  return {
    pid: child.pid!,
    url: `redis://127.0.0.1:${port}`,
    commandStats: async () => parseCommandStats(await command(port, 'INFO commandstats')),
    close,
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });
}

async function untilPong(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await command(port, 'PING').catch(() => '')).startsWith('+PONG')) {
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING within 10 s`);
    await delay(25);
  }
}

/** One inline command on its own connection; resolves with the raw reply (a simple string, or a bulk string's body). */
function command(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    socket.setEncoding('utf8');
    socket.setTimeout(5_000, () => socket.destroy(new Error(`redis-server on port ${port} did not answer ${line}`)));
    socket.on('connect', () => socket.write(`${line}\r\n`));
    socket.on('data', (chunk: string) => {
      reply += chunk;
      const bulk = /^\$(\d+)\r\n/.exec(reply);
      // Lengths are in bytes; INFO's reply is ASCII.
      if (bulk && reply.length >= bulk[0].length + Number(bulk[1]) + 2) {
        socket.end();
        resolve(reply.slice(bulk[0].length, bulk[0].length + Number(bulk[1])));
      } else if (!bulk && !reply.startsWith('$') && reply.includes('\r\n')) {
        socket.end();
        if (reply.startsWith('-')) reject(new Error(`redis-server: ${reply.trim()}`));
        else resolve(reply);
      }
    });
    socket.on('error', reject);
  });
}

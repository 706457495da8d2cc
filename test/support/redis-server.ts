/**
 * A real redis-server for tests: Debian's binary (`scripts/ensure-test-deps.sh`
 * installs it when missing), on a free loopback port, with its own temporary
 * directory, no persistence unless asked. `stop()` and `start()` again keep
 * the port and the directory, so tests can take the store away and bring it back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort } from './free-port.ts';

export interface RedisServer {
  readonly port: number;
  /** redis://127.0.0.1:<port> */
  readonly url: string;
  /** Stops the server (SIGTERM, then SIGKILL); the port and directory stay for start(). */
  stop(): Promise<void>;
  /** Starts it again on the same port, with what it had saved (appendonly when `persist` was set). */
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  close(): Promise<void>;
}

export interface RedisServerOptions {
  /** Keep data across stop()/start() (append-only file, fsync always). Default false. */
  readonly persist?: boolean;
  /** More redis-server arguments, e.g. ['--replicaof', '127.0.0.1', '6380']. */
  readonly args?: readonly string[];
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--protected-mode', 'yes', '--loglevel', 'warning'];
    args.push(...(options.persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']), ...(options.args ?? []));
    const spawned = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = spawned;
    let stderr = '';
    spawned.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<never>((_, reject) => {
      spawned.once('error', (error) => reject(new Error(`redis-server did not start (${error.message}); install it with: apt-get install redis-server`)));
      spawned.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${stderr.trim()}`)));
    });
    await Promise.race([waitForPing(port), exited]);
  };

  const stop = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGTERM');
    const killed = setTimeout(() => running.kill('SIGKILL'), 3_000);
    await exited;
    clearTimeout(killed);
  };

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop,
    start,
    async close() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves when the server answers PING with +PONG. */
async function waitForPing(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (await ping(port)) return;
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING within 10 s`);
    await delay(25);
  }
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    socket.setTimeout(1_000, () => socket.destroy());
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) {
        socket.destroy();
        resolve(reply.startsWith('+PONG'));
      }
    });
    socket.on('error', () => resolve(false));
    socket.on('close', () => resolve(false));
  });
}

export interface RedisSentinel {
  readonly port: number;
  /** redis+sentinel://127.0.0.1:<port>/<master name> */
  readonly url: string;
  close(): Promise<void>;
}

/** A real Redis Sentinel (the same binary, `--sentinel`) watching `master` under the name `name`. */
export async function startRedisSentinel(master: RedisServer, name = 'gatehouse'): Promise<RedisSentinel> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-sentinel-'));
  const port = await freePort();
  const conf = join(dir, 'sentinel.conf');
  // Sentinel rewrites its configuration file as it learns: it must be its own, writable.
  await writeFile(
    conf,
    `port ${port}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor ${name} 127.0.0.1 ${master.port} 1\nsentinel down-after-milliseconds ${name} 1000\n`,
  );
  const child = spawn('redis-server', [conf, '--sentinel'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`redis sentinel exited with ${code}: ${stderr.trim()}`))));
  await Promise.race([waitForPing(port), exited]);
  return {
    port,
    url: `redis+sentinel://127.0.0.1:${port}/${name}`,
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        const done = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await done;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface RedisCluster {
  /** redis+cluster://127.0.0.1:<port>,… (every node as a seed) */
  readonly url: string;
  /** Every node, masters first. */
  readonly nodes: readonly RedisServer[];
  /** The node that serves `port`'s connections, by port. */
  node(port: number): RedisServer;
  close(): Promise<void>;
}

/**
 * A real Redis Cluster on loopback: `masters` nodes sharing the 16,384 slots
 * (made with `redis-cli --cluster create`), each with `replicasPerMaster`
 * replicas that take over 1 s after their master stops answering.
 */
export async function startRedisCluster(options: { masters?: number; replicasPerMaster?: number } = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3;
  const replicas = options.replicasPerMaster ?? 0;
  const nodes: RedisServer[] = [];
  try {
    for (let index = 0; index < masters * (1 + replicas); index++) {
      // The cluster bus gets a free port of its own: the default (port + 10000) may be taken, or past 65535.
      const busPort = await freePort();
      const args = [
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${index}.conf`,
        '--cluster-node-timeout',
        '1000',
        // A replica may always take over, however long it has not heard its master: on a loaded machine (a test run on
        // shared cores) the master's pings arrive late and a replica would otherwise judge its data too old to fail over.
        '--cluster-replica-validity-factor',
        '0',
        '--cluster-port',
        String(busPort),
      ];
      nodes.push(await startRedisServer({ args }));
    }
    const create = spawn(
      'redis-cli',
      ['--cluster', 'create', ...nodes.map((node) => `127.0.0.1:${node.port}`), '--cluster-replicas', String(replicas), '--cluster-yes'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    create.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    create.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve, reject) => {
      create.once('error', reject);
      create.once('exit', resolve);
    });
    if (code !== 0) throw new Error(`redis-cli --cluster create exited with ${code}: ${output.trim()}`);
    await Promise.all(nodes.map((node) => waitForClusterOk(node.port)));
  } catch (error) {
    await Promise.all(nodes.map((node) => node.close()));
    throw error;
  }
  return {
    url: `redis+cluster://${nodes.map((node) => `127.0.0.1:${node.port}`).join(',')}`,
    nodes,
    node(port) {
      const found = nodes.find((node) => node.port === port);
      if (!found) throw new Error(`no cluster node on port ${port}`);
      return found;
    },
    async close() {
      await Promise.all(nodes.map((node) => node.close()));
    },
  };
}

/** Resolves when the node says the cluster is up (every slot served) and it knows every node. */
export async function waitForClusterOk(port: number, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if ((await command(port, 'CLUSTER INFO')).includes('cluster_state:ok')) return;
    if (Date.now() > deadline) throw new Error(`the Redis Cluster node on port ${port} did not report cluster_state:ok within ${ms} ms`);
    await delay(100);
  }
}

/** One inline command's raw reply ('' when the node does not answer). */
function command(port: number, line: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    socket.setTimeout(1_000, () => socket.destroy());
    socket.on('connect', () => socket.write(`${line}\r\n`));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      const header = /^\$(\d+)\r\n/.exec(reply);
      if ((header && reply.length >= header[0].length + Number(header[1]) + 2) || (!header && reply.includes('\r\n') && !reply.startsWith('$'))) {
        socket.destroy();
        resolve(reply);
      }
    });
    socket.on('error', () => resolve(''));
    socket.on('close', () => resolve(reply));
  });
}

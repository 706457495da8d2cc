/**
 * `gatehouse serve --workers N` through the whole stack (bench/lib/serve-workers-stack.ts: the CLI with a Redis store,
 * a real connector process with tunnels to every worker, a signed-in user's cookie from the real identity provider),
 * and the load generator at C keep-alive connections on GET /1k. Prints requests/s and CPU per request (primary and
 * workers together, and the connector) for each worker count. `npm run bench` measures the same stacks as its
 * workers-N variants, side by side with the others; this script is the longer run of these alone.
 *
 *   node bench/serve-workers.ts [--workers 1,2] [--connections 64] [--warm S] [--measure S]
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { BackendInfo } from './backend.ts';
import { startChild } from './lib/child.ts';
import { cpuModel, cpuTimeMs } from './lib/procfs.ts';
import { startServeWorkersStack } from './lib/serve-workers-stack.ts';
import type { GetResult } from './loadgen.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const { values } = parseArgs({
  options: {
    workers: { type: 'string', default: '1,2' },
    connections: { type: 'string', default: '64' },
    warm: { type: 'string', default: '5' },
    measure: { type: 'string', default: '15' },
  },
});

async function loadgen(args: string[]): Promise<GetResult> {
  const child = spawn(process.execPath, [join(HERE, 'loadgen.ts'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  await once(child, 'exit');
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as GetResult;
}

const backend = await startChild<BackendInfo>(join(HERE, 'backend.ts'), []);
process.stderr.write(`cpu: ${cpuModel()}\n`);
for (const workers of values.workers.split(',').map(Number)) {
  const stack = await startServeWorkersStack({ workers, backendUrl: backend.info.url });
  try {
    const cookie = await stack.signIn();
    const common = ['get', '--origin', stack.origin, '--host', stack.host, '--path', '/1k', '--ca', stack.caFile, '--cookie', cookie];
    await loadgen([...common, '--connections', values.connections, '--duration', values.warm]);
    const connectorPid = stack.connector.process.child.pid!;
    const cpu = (): number => stack.gatewayPids.reduce((sum, pid) => sum + cpuTimeMs(pid), 0);
    const [gatewayBefore, connectorBefore] = [cpu(), cpuTimeMs(connectorPid)];
    const result = await loadgen([...common, '--connections', values.connections, '--duration', values.measure]);
    const [gatewayMs, connectorMs] = [cpu() - gatewayBefore, cpuTimeMs(connectorPid) - connectorBefore];
    const per = (ms: number): string => ((ms * 1000) / Math.max(1, result.requests)).toFixed(0);
    console.log(
      `workers ${workers}: ${result.rps.toFixed(0)} req/s, p50 ${result.p50Ms.toFixed(1)} ms, p99 ${result.p99Ms.toFixed(1)} ms, errors ${result.errors}; ` +
        `CPU per request: gateway ${per(gatewayMs)} µs (${((gatewayMs / 1000 / Number(values.measure)) * 100).toFixed(0)}% of a core), connector ${per(connectorMs)} µs`,
    );
  } finally {
    await stack.stop();
  }
}
await backend.stop();
process.exit(0);

/**
 * The connector's CPU time per request through one TLS tunnel: what its end
 * of the tunnel costs, measured where a busy shared machine does not blur it
 * (CPU time of the connector process from /proc, not requests/s: the
 * scheduler's run time of every thread, bench/lib/thread-cpu.ts).
 *
 *   node --conditions=gatehouse-source bench/connector-cpu.ts [--requests 20000] [--concurrency 1,16] [--runs 3] [--instructions]
 *
 * Two connectors run side by side, each in a process of its own and each
 * with one tunnel to the same service: one runs its HTTP/2 session straight
 * on the TLS socket (what a connector does against this service), the other
 * on its write-ahead stream (what it does against a service that does not
 * say it reads while it writes). The parent runs the tunnel service, the
 * gateway (Express + http-proxy-middleware over a TunnelAgent), a small HTTP
 * app and the load (keep-alive GETs of 1 KiB); the two are measured in turn,
 * the order rotating each run. With --instructions the connectors run under
 * valgrind (callgrind) and the figure is thousands of instructions per
 * request, after a full GC before each window (docs/benchmarks.md, "Counted
 * in instructions").
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { dialTunnel } from '../src/connector/link-dialer.ts';
import { TunnelServer } from '../src/connector/stream-server.ts';
import { startGateway } from '../dev/lib/tunnel-gateway.ts';
import { createTestPki } from '../dev/lib/tunnel-pki.ts';
import { startServiceSide } from '../dev/lib/tunnel-service-side.ts';
import { fullGc, serveParent, startChild, type Child } from './lib/child.ts';
import { BODY, keepAliveLoad, median } from './lib/keepalive-load.ts';
import { cpuTimesMs } from './lib/procfs.ts';
import { workMeter } from './lib/work-meter.ts';

interface ConnectorArgs {
  readonly serviceUrl: string;
  readonly keyPem: string;
  readonly certPem: string;
  readonly caPem: string;
  readonly appUrl: string;
  readonly appId: string;
  readonly sessionOnSocket: boolean;
}

const CONNECTOR_ENV = 'GATEHOUSE_BENCH_CONNECTOR';

const { values } = parseArgs({
  options: {
    serve: { type: 'boolean', default: false },
    requests: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '1,16' },
    runs: { type: 'string', default: '3' },
    instructions: { type: 'boolean', default: false },
  },
});

const METER = workMeter(values.instructions);
const SLOW = METER.slow;

const VARIANTS = [
  { name: 'on the TLS socket', group: 'socket', sessionOnSocket: true },
  { name: 'on the write-ahead stream', group: 'write-ahead', sessionOnSocket: false },
] as const;

async function serveConnector(args: ConnectorArgs): Promise<void> {
  const socket = await dialTunnel({ serviceUrl: args.serviceUrl, identity: { keyPem: args.keyPem, certPem: args.certPem }, ca: args.caPem, transport: 'tls' });
  const server = new TunnelServer(socket, {
    resolveApp: (appId) => (appId === args.appId ? { internalUrl: args.appUrl } : undefined),
    sessionOnSocket: args.sessionOnSocket,
  });
  serveParent({}, { gc: fullGc }, async () => {
    server.destroy();
    await server.closed;
  });
}

async function main(): Promise<void> {
  const requests = Number(values.requests);
  const concurrency = values.concurrency.split(',').map(Number);
  const runs = Number(values.runs);
  await METER.ready();
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-connector-cpu-'));
  const app = createServer((_req, res) => res.end(BODY));
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  const appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
  const pki = createTestPki();
  const service = await startServiceSide({ pki });
  const gateway = await startGateway(
    service.pool,
    VARIANTS.map(({ group }) => ({ id: group, connectorGroup: group })),
  );
  const connectors: Array<{ name: string; url: string; child: Child<unknown> }> = [];
  for (const variant of VARIANTS) {
    const id = `c-${variant.group}`;
    const args: ConnectorArgs = {
      serviceUrl: `https://127.0.0.1:${service.port}`,
      ...pki.identity(id, variant.group),
      caPem: pki.caPem,
      appUrl,
      appId: variant.group,
      sessionOnSocket: variant.sessionOnSocket,
    };
    process.stdout.write(`starting the connector ${variant.name}${METER.counting ? ' under valgrind' : ''}…\n`);
    // The identity travels in the environment, not on the command line, where any process on the machine could read it.
    const child = await startChild(fileURLToPath(import.meta.url), ['--serve'], {
      nodeArgs: ['--conditions=gatehouse-source', '--expose-gc'],
      env: { [CONNECTOR_ENV]: JSON.stringify(args) },
      readyTimeoutMs: 60_000 * SLOW,
      wrapper: METER.wrapper(dir),
    });
    await service.waitForTunnels(id, 1);
    connectors.push({ name: variant.name, url: `${gateway.url}/${variant.group}/1k`, child });
  }
  process.stdout.write('warming up…\n');
  for (const connector of connectors) await keepAliveLoad(connector.url, 16, METER.counting ? 1000 : 2000);
  for (const connections of concurrency) {
    const figures = new Map<string, number[]>(connectors.map(({ name }) => [name, []]));
    // User and system time apart, in 10 ms ticks: what share of a request's CPU is the kernel's.
    const split = new Map<string, { user: number; system: number }>(connectors.map(({ name }) => [name, { user: 0, system: 0 }]));
    for (let run = 0; run < runs; run++) {
      // Rotating order: neither is always the first after a pause.
      const order = connectors.map((_, index) => connectors[(index + run) % connectors.length]!);
      for (const connector of order) {
        if (METER.counting) await connector.child.call('gc', undefined, 60_000 * SLOW);
        const before = await METER.reading(connector.child.pid);
        const times = cpuTimesMs(connector.child.pid);
        await keepAliveLoad(connector.url, connections, requests);
        figures.get(connector.name)!.push(METER.perRequest((await METER.reading(connector.child.pid)) - before, requests));
        const after = cpuTimesMs(connector.child.pid);
        const sum = split.get(connector.name)!;
        sum.user += after.user - times.user;
        sum.system += after.system - times.system;
      }
      process.stdout.write(`  ${connections} connection(s), run ${run + 1} of ${runs} done\n`);
    }
    for (const [name, values] of figures) {
      const shown = values.map((value) => value.toFixed(1)).join(', ');
      const { user, system } = split.get(name)!;
      // Under valgrind user time is valgrind's own: the split says nothing then.
      const kernel = METER.counting ? '' : `, ${Math.round((100 * system) / (user + system))} % of it system time`;
      process.stdout.write(
        `connector ${METER.unit} per request, ${connections} connection(s), session ${name}: median ${median(values).toFixed(1)} (runs: ${shown}; ${requests} requests each${kernel})\n`,
      );
    }
  }
  for (const { child } of connectors) await child.stop(10_000 * SLOW);
  await gateway.close();
  await service.close();
  app.close();
  rmSync(dir, { recursive: true, force: true });
}

if (values.serve) await serveConnector(JSON.parse(process.env[CONNECTOR_ENV] ?? '{}') as ConnectorArgs);
else await main();

/**
 * The gateway's CPU time per request through one TLS tunnel: what the
 * service's end of the tunnel (TunnelSession, TunnelAgent) costs together
 * with the gateway in front of it, measured where a busy shared machine does
 * not blur it (CPU time of the gateway process from /proc, not requests/s).
 *
 *   node --conditions=gatehouse-source bench/gateway-tunnel-cpu.ts [--requests 20000] [--concurrency 1,16] [--runs 3] [--connector-cpu]
 *
 * The gateway process (the tunnel listener with its TunnelPool, and Express +
 * http-proxy-middleware over a TunnelAgent, as dev/lib wires them) is a child
 * of its own, whose utime + stime is read before and after each run. The
 * parent runs the connector (TunnelServer on a dialled TLS tunnel), a small
 * HTTP app and the load (keep-alive GETs of 1 KiB). With `--connector-cpu`
 * the parent's own CPU time per request is printed too (connector, app and
 * load together: only a comparison between runs of the same kind means
 * anything).
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { dialTunnel } from '../src/connector/link-dialer.ts';
import { TunnelServer } from '../src/connector/stream-server.ts';
import { startGateway } from '../dev/lib/tunnel-gateway.ts';
import { createTestPki, type TestPki } from '../dev/lib/tunnel-pki.ts';
import { startServiceSide } from '../dev/lib/tunnel-service-side.ts';
import { serveParent, startChild } from './lib/child.ts';
import { BODY, keepAliveLoad, median } from './lib/keepalive-load.ts';
import { cpuTimeMs } from './lib/procfs.ts';

interface GatewayInfo {
  readonly servicePort: number;
  readonly gatewayUrl: string;
}

const PKI_ENV = 'GATEHOUSE_BENCH_PKI';

const { values } = parseArgs({
  options: {
    serve: { type: 'boolean', default: false },
    requests: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '1,16' },
    runs: { type: 'string', default: '3' },
    'connector-cpu': { type: 'boolean', default: false },
  },
});

interface PkiArgs {
  readonly caPem: string;
  readonly server: TestPki['server'];
}

async function serveGateway(args: PkiArgs): Promise<void> {
  const pki = { caPem: args.caPem, server: args.server } as TestPki;
  const service = await startServiceSide({ pki });
  const gateway = await startGateway(service.pool, [{ id: 'app', connectorGroup: 'default' }]);
  serveParent<GatewayInfo>(
    { servicePort: service.port, gatewayUrl: gateway.url },
    { tunnels: async () => (await service.waitForTunnels('c-bench', 1)).length },
    async () => {
      await gateway.close();
      await service.close();
    },
  );
}

async function main(): Promise<void> {
  const requests = Number(values.requests);
  const concurrency = values.concurrency.split(',').map(Number);
  const runs = Number(values.runs);
  const app = createServer((_req, res) => res.end(BODY));
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  const appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
  const pki = createTestPki();
  // The keys travel in the environment, not on the command line, where any process on the machine could read them.
  const gateway = await startChild<GatewayInfo>(fileURLToPath(import.meta.url), ['--serve'], {
    nodeArgs: ['--conditions=gatehouse-source'],
    env: { [PKI_ENV]: JSON.stringify({ caPem: pki.caPem, server: pki.server } satisfies PkiArgs) },
  });
  const identity = pki.identity('c-bench', 'default');
  const socket = await dialTunnel({
    serviceUrl: `https://127.0.0.1:${gateway.info.servicePort}`,
    identity: { keyPem: identity.keyPem, certPem: identity.certPem },
    ca: pki.caPem,
    transport: 'tls',
  });
  const connector = new TunnelServer(socket, { resolveApp: (appId) => (appId === 'app' ? { internalUrl: appUrl } : undefined) });
  await gateway.call('tunnels');
  const url = `${gateway.info.gatewayUrl}/app/1k`;
  await keepAliveLoad(url, 16, 2000); // warm-up: JIT, TLS, agents
  for (const connections of concurrency) {
    const perRequest: number[] = [];
    const parentPerRequest: number[] = [];
    for (let run = 0; run < runs; run++) {
      const before = cpuTimeMs(gateway.pid);
      const parentBefore = process.cpuUsage();
      await keepAliveLoad(url, connections, requests);
      perRequest.push(((cpuTimeMs(gateway.pid) - before) * 1000) / requests);
      const used = process.cpuUsage(parentBefore);
      parentPerRequest.push((used.user + used.system) / requests);
    }
    const shown = perRequest.map((us) => us.toFixed(1)).join(', ');
    const [load1, load5] = (await import('node:os')).loadavg();
    process.stdout.write(
      `gateway CPU per request, ${connections} connection(s): median ${median(perRequest).toFixed(1)} µs (runs: ${shown}; ${requests} requests each; load ${load1!.toFixed(2)} ${load5!.toFixed(2)})\n`,
    );
    if (values['connector-cpu']) {
      process.stdout.write(`  parent (connector + app + load) CPU per request: median ${median(parentPerRequest).toFixed(1)} µs\n`);
    }
  }
  connector.destroy();
  await connector.closed;
  await gateway.stop();
  app.close();
}

if (values.serve) await serveGateway(JSON.parse(process.env[PKI_ENV] ?? '{}') as PkiArgs);
else await main();

/**
 * The connector's CPU time per request through one TLS tunnel: what its end
 * of the tunnel costs, measured where a busy shared machine does not blur it
 * (CPU time of the connector process from /proc, not requests/s).
 *
 *   node --conditions=gatehouse-source bench/connector-cpu.ts [--requests 20000] [--concurrency 1,16] [--runs 3]
 *
 * The parent runs the tunnel service, the gateway (Express +
 * http-proxy-middleware over a TunnelAgent), a small HTTP app and the load
 * (keep-alive GETs of 1 KiB); the connector (TunnelServer on a dialled TLS
 * tunnel, exactly as `gatehouse-connector run` serves it) runs in a child
 * process of its own, whose utime + stime is read before and after.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { dialTunnel } from '../src/connector/link-dialer.ts';
import { TunnelServer } from '../src/connector/stream-server.ts';
import { startGateway } from '../dev/lib/tunnel-gateway.ts';
import { createTestPki } from '../dev/lib/tunnel-pki.ts';
import { startServiceSide } from '../dev/lib/tunnel-service-side.ts';
import { serveParent, startChild } from './lib/child.ts';
import { BODY, keepAliveLoad, median } from './lib/keepalive-load.ts';
import { cpuTimeMs } from './lib/procfs.ts';

interface ConnectorArgs {
  readonly serviceUrl: string;
  readonly keyPem: string;
  readonly certPem: string;
  readonly caPem: string;
  readonly appUrl: string;
}

const CONNECTOR_ENV = 'GATEHOUSE_BENCH_CONNECTOR';

const { values } = parseArgs({
  options: {
    serve: { type: 'boolean', default: false },
    requests: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '1,16' },
    runs: { type: 'string', default: '3' },
  },
});

async function serveConnector(args: ConnectorArgs): Promise<void> {
  const socket = await dialTunnel({ serviceUrl: args.serviceUrl, identity: { keyPem: args.keyPem, certPem: args.certPem }, ca: args.caPem, transport: 'tls' });
  const server = new TunnelServer(socket, { resolveApp: (appId) => (appId === 'app' ? { internalUrl: args.appUrl } : undefined) });
  serveParent({}, {}, async () => {
    server.destroy();
    await server.closed;
  });
}

async function main(): Promise<void> {
  const requests = Number(values.requests);
  const concurrency = values.concurrency.split(',').map(Number);
  const runs = Number(values.runs);
  const app = createServer((_req, res) => res.end(BODY));
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  const pki = createTestPki();
  const service = await startServiceSide({ pki });
  const identity = pki.identity('c-bench', 'default');
  const args: ConnectorArgs = {
    serviceUrl: `https://127.0.0.1:${service.port}`,
    ...identity,
    caPem: pki.caPem,
    appUrl: `http://127.0.0.1:${(app.address() as AddressInfo).port}`,
  };
  // The identity travels in the environment, not on the command line, where any process on the machine could read it.
  const connector = await startChild(fileURLToPath(import.meta.url), ['--serve'], {
    nodeArgs: ['--conditions=gatehouse-source'],
    env: { [CONNECTOR_ENV]: JSON.stringify(args) },
  });
  await service.waitForTunnels('c-bench', 1);
  const gateway = await startGateway(service.pool, [{ id: 'app', connectorGroup: 'default' }]);
  const url = `${gateway.url}/app/1k`;
  await keepAliveLoad(url, 16, 2000); // warm-up: JIT, TLS, agents
  for (const connections of concurrency) {
    const perRequest: number[] = [];
    for (let run = 0; run < runs; run++) {
      const before = cpuTimeMs(connector.pid);
      await keepAliveLoad(url, connections, requests);
      perRequest.push(((cpuTimeMs(connector.pid) - before) * 1000) / requests);
    }
    const shown = perRequest.map((us) => us.toFixed(1)).join(', ');
    process.stdout.write(
      `connector CPU per request, ${connections} connection(s): median ${median(perRequest).toFixed(1)} µs (runs: ${shown}; ${requests} requests each)\n`,
    );
  }
  await connector.stop();
  await gateway.close();
  await service.close();
  app.close();
}

if (values.serve) await serveConnector(JSON.parse(process.env[CONNECTOR_ENV] ?? '{}') as ConnectorArgs);
else await main();

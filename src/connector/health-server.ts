/**
 * The connector's metrics address (`run --metrics-address`): liveness,
 * readiness and Prometheus metrics for the tools that watch it. Readiness is
 * read from the connector's own events: registered (its state directory
 * loaded), a configuration applied, and at least one tunnel up; a connector
 * that stopped is not ready.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { METRICS_PATH, serveMetrics } from '../admin/metrics-endpoint.ts';
import { answerHealth, HEALTHZ_PATH, pathOf, READYZ_PATH, writeJson, type HealthEndpoint } from '../health/health-handler.ts';
import type { HealthCheck } from '../health/readiness.ts';
import type { ConnectorEvents } from './connector-events.ts';

/** What the connector's `/ready` answers. */
export interface ConnectorReadiness {
  readonly status: 'ready' | 'not_ready';
  readonly checks: {
    readonly registered: HealthCheck;
    readonly configuration: HealthCheck;
    readonly tunnels: HealthCheck;
  };
}

/** Short paths, as other tools' metrics addresses have them, and the gateway's names too. */
const ENDPOINTS: ReadonlyMap<string, HealthEndpoint> = new Map([
  ['/healthz', 'healthz'],
  [HEALTHZ_PATH, 'healthz'],
  ['/ready', 'readyz'],
  ['/readyz', 'readyz'],
  [READYZ_PATH, 'readyz'],
]);

export interface ConnectorHealthServerOptions {
  /** The events of the connector it reports on: pass the same object to `runConnector()`, before it starts. */
  readonly events: ConnectorEvents;
  /** What `/metrics` serves (with the process's metrics, prefixed `gatehouse_connector_`). */
  readonly metrics: Registry;
}

export interface ConnectorHealthServer {
  readonly server: Server;
  readiness(): ConnectorReadiness;
  /** Opens the listener; resolves with the bound address. */
  listen(port: number, host: string): Promise<AddressInfo>;
  /** Stops listening and following the events. */
  close(): Promise<void>;
}

export function createConnectorHealthServer(options: ConnectorHealthServerOptions): ConnectorHealthServer {
  const state = followConnector(options.events);
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = pathOf(req.url ?? '');
    const endpoint = ENDPOINTS.get(path);
    if (endpoint !== undefined) {
      answerHealth(req, res, endpoint, () => Promise.resolve(state.readiness()));
      return;
    }
    if (path === METRICS_PATH) {
      serveMetrics(req, res, options.metrics, 'gatehouse_connector_');
      return;
    }
    writeJson(req, res, 404, { error: 'not_found' });
  };
  const server = createServer(handle);
  return {
    server,
    readiness: state.readiness,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve(server.address() as AddressInfo);
        });
      }),
    close: () =>
      new Promise((resolve) => {
        state.stop();
        if (!server.listening) {
          resolve();
          return;
        }
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** What the connector said about itself so far, as readiness. */
function followConnector(events: ConnectorEvents): { readiness: () => ConnectorReadiness; stop: () => void } {
  let registered = false;
  let version: number | undefined;
  let stopped = false;
  const tunnelsUp = new Set<string>();
  const isTunnel = (link: string): boolean => link.startsWith('tunnel-');
  const listeners = {
    starting: (): void => {
      registered = true;
      stopped = false;
    },
    configApplied: ({ version: applied }: { readonly version: number }): void => void (version = applied),
    linkUp: ({ link }: { readonly link: string }): void => void (isTunnel(link) && tunnelsUp.add(link)),
    linkDown: ({ link }: { readonly link: string }): void => void tunnelsUp.delete(link),
    stopped: (): void => {
      stopped = true;
      tunnelsUp.clear();
    },
  };
  events.on('starting', listeners.starting);
  events.on('configApplied', listeners.configApplied);
  events.on('linkUp', listeners.linkUp);
  events.on('linkDown', listeners.linkDown);
  events.on('linkRestarting', listeners.linkDown);
  events.on('linkGoingAway', listeners.linkDown);
  events.on('stopped', listeners.stopped);
  return {
    readiness: () => {
      const checks = {
        registered: registered ? { ok: true, detail: 'registered' } : { ok: false, detail: 'not started: no registration loaded yet' },
        configuration:
          version !== undefined ? { ok: true, detail: `version ${version} applied` } : { ok: false, detail: 'no configuration pulled from the service yet' },
        tunnels: stopped
          ? { ok: false, detail: 'the connector stopped' }
          : tunnelsUp.size > 0
            ? { ok: true, detail: `${tunnelsUp.size} tunnel${tunnelsUp.size === 1 ? '' : 's'} up` }
            : { ok: false, detail: 'no tunnel up' },
      };
      const ok = checks.registered.ok && checks.configuration.ok && checks.tunnels.ok;
      return { status: ok ? 'ready' : 'not_ready', checks };
    },
    stop: () => {
      events.off('starting', listeners.starting);
      events.off('configApplied', listeners.configApplied);
      events.off('linkUp', listeners.linkUp);
      events.off('linkDown', listeners.linkDown);
      events.off('linkRestarting', listeners.linkDown);
      events.off('linkGoingAway', listeners.linkDown);
      events.off('stopped', listeners.stopped);
    },
  };
}

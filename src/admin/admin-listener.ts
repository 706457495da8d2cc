/**
 * The admin listener: a server of its own, apart from the published hosts,
 * for the tools that watch the gateway: liveness, readiness and Prometheus
 * metrics (the gateway's and Node's process metrics), and the admin console.
 * Health and metrics answer without authentication, so it belongs on a
 * private address.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { TlsMaterial } from '../config/parse.ts';
import { answerHealth, healthEndpoint, pathOf, writeJson, type ReadinessReport } from '../health/health-handler.ts';
import { MAX_REQUEST_HEADER_BYTES } from '../limits.ts';
import type { MetricsPrefix } from '../metrics/registry.ts';
import { createAdminConsole, isConsoleSource } from './console/admin-console.ts';
import { isConsolePath } from './console/console-handler.ts';
import { METRICS_PATH, serveMetrics } from './metrics-endpoint.ts';

/** A handler for one more path on the admin listener (e.g. the reload endpoint). */
export type AdminRoute = (req: IncomingMessage, res: ServerResponse) => void;

/** What the admin listener serves: a gateway (`createGateway()`'s) has all of it. */
export interface AdminSource {
  readonly metrics: Registry;
  readiness(): Promise<ReadinessReport>;
  /** Where to listen and with which certificate, when the options do not say. */
  readonly config?: { readonly admin?: { readonly listen: { readonly host: string; readonly port: number }; readonly tls?: TlsMaterial } };
}

/** Where the admin listener listens and what more it serves; every option defaults to the gateway's `admin` configuration. */
export interface AdminListenerOptions {
  /** Default: `admin.listen.host` of the gateway's configuration, else 127.0.0.1. */
  readonly host?: string;
  /** Default: `admin.listen.port`, else 0 (any free port). */
  readonly port?: number;
  /** Serve HTTPS with this certificate and key. Default: `admin.tls`, else plain HTTP. */
  readonly tls?: TlsMaterial;
  /** More paths to serve, by exact path (query string ignored). */
  readonly routes?: Readonly<Record<string, AdminRoute>>;
  /** Default 'gatehouse_'. */
  readonly metricsPrefix?: MetricsPrefix;
  /** The admin console at `/.gatehouse/admin/`, for a gateway's source. Default true; `false` leaves it out. */
  readonly console?: boolean;
}

/** What `createAdminListener()` returns: its server, and its life cycle. */
export interface AdminListener {
  readonly server: HttpServer | HttpsServer;
  /** Opens the listener; resolves with the bound address. */
  listen(): Promise<AddressInfo>;
  /** The bound address, once listening. */
  address(): AddressInfo | undefined;
  /** Stops accepting and closes its connections (scrapes and probes are short: nothing is waited for). */
  close(): Promise<void>;
}

/**
 * `/.gatehouse/healthz`, `/.gatehouse/readyz` and `GET /metrics` on a server of its own; 404 for anything else.
 * `createGatewayServer()` opens one when `admin.listen` is configured; an app that mounts the gateway can open it too.
 */
export function createAdminListener(source: AdminSource, options: AdminListenerOptions = {}): AdminListener {
  const configured = source.config?.admin;
  const host = options.host ?? configured?.listen.host ?? '127.0.0.1';
  const port = options.port ?? configured?.listen.port ?? 0;
  const tls = options.tls ?? configured?.tls;
  const prefix = options.metricsPrefix ?? 'gatehouse_';
  const routes = new Map(Object.entries(options.routes ?? {}));
  const adminConsole = options.console !== false && isConsoleSource(source) ? createAdminConsole(source, { secure: tls !== undefined }) : undefined;
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    res.setHeader('X-Robots-Tag', 'noindex, nofollow');
    const endpoint = healthEndpoint(req.url);
    if (endpoint !== undefined) {
      answerHealth(req, res, endpoint, () => source.readiness());
      return;
    }
    const path = pathOf(req.url ?? '');
    if (path === METRICS_PATH) {
      serveMetrics(req, res, source.metrics, prefix);
      return;
    }
    const route = routes.get(path);
    if (route) {
      route(req, res);
      return;
    }
    if (adminConsole && isConsolePath(path)) {
      adminConsole.handle(req, res);
      return;
    }
    writeJson(req, res, 404, { error: 'not_found' });
  };
  const server = tls
    ? createHttpsServer({ cert: tls.cert, key: tls.key, maxHeaderSize: MAX_REQUEST_HEADER_BYTES }, handle)
    : createHttpServer({ maxHeaderSize: MAX_REQUEST_HEADER_BYTES }, handle);
  return {
    server,
    listen: () =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        // exclusive: under `serve --workers` each worker answers health and metrics for itself, on its own port.
        server.listen({ port, host, exclusive: true }, () => {
          server.off('error', reject);
          adminConsole?.start();
          resolve(server.address() as AddressInfo);
        });
      }),
    address: () => (server.listening ? (server.address() as AddressInfo) : undefined),
    close: async () => {
      await adminConsole?.close();
      await new Promise<void>((resolve) => {
        if (!server.listening) {
          resolve();
          return;
        }
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

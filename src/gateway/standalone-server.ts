import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createAdminListener, type AdminListener, type AdminRoute } from '../admin/admin-listener.ts';
import type { GatewayConfig } from '../config/parse.ts';
import type { GatewayConfigInput } from '../config/schema.ts';
import { createGateway, type Gateway, type GatewayOptions } from './create-gateway.ts';
import { MAX_REQUEST_HEADER_BYTES } from '../limits.ts';
import { shutdown, type ShutdownOptions } from './shutdown.ts';
import type { ReloadActor, ReloadInput, ReloadResult } from './reload.ts';
import { RELOAD_PATH, reloadHandler } from './reload-handler.ts';

/** `createGateway()`'s options, and where a reload reads the configuration. */
export interface GatewayServerOptions extends GatewayOptions {
  /**
   * Reads the configuration again (`gatehouse serve` reads its file): `reloadFromSource()` applies it, and the admin
   * listener serves `POST /.gatehouse/admin/reload`. A GatehouseConfigError it throws is reported as the problems.
   */
  readonly configSource?: () => GatewayConfigInput | GatewayConfig;
  /** Told the outcome of every reload from the source (the CLI prints it). */
  readonly onReload?: (result: ReloadResult, by: ReloadActor) => void;
}

/** A gateway on an HTTP(S) server of its own, as `gatehouse serve` runs it. */
export interface GatewayServer {
  readonly gateway: Gateway;
  readonly server: HttpServer | HttpsServer;
  /** The admin listener (health, readiness, metrics) when `admin.listen` is configured: opened by `listen()`, closed by `close()`. */
  readonly admin: AdminListener | undefined;
  /** Listens on config.server.host/port unless given; resolves with the bound address. Opens the connector listener too. */
  listen(port?: number, host?: string): Promise<AddressInfo>;
  /**
   * `gateway.reload()`, and a new `server.tls` certificate and key (read by the loader) served to new connections.
   * A change between plain HTTP and HTTPS needs a restart.
   */
  reload(input: ReloadInput, by?: ReloadActor): Promise<ReloadResult>;
  /** `reload()` from `options.configSource` (SIGHUP and the admin endpoint call it); refused when there is none. */
  reloadFromSource(by: ReloadActor): Promise<ReloadResult>;
  /**
   * Graceful shutdown (see `shutdown()`): stops accepting, lets requests and WebSockets in flight finish until
   * `server.shutdownTimeout` (or `options.timeoutMs`), cuts what is left, then releases the gateway.
   */
  close(options?: ShutdownOptions): Promise<void>;
}

/** A stand-alone cloud side: an Express app that is only the gateway, on its own server. */
export function createGatewayServer(input: GatewayConfigInput | GatewayConfig, options: GatewayServerOptions = {}): GatewayServer {
  const gateway = createGateway(input, options);
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.use(gateway.handler);
  const tls = gateway.config.server.tls;
  const server = tls
    ? createHttpsServer({ cert: tls.cert, key: tls.key, maxHeaderSize: MAX_REQUEST_HEADER_BYTES }, app)
    : createHttpServer({ maxHeaderSize: MAX_REQUEST_HEADER_BYTES }, app);
  gateway.attach(server);
  const reload = async (input: ReloadInput, by?: ReloadActor): Promise<ReloadResult> => {
    const result = await gateway.reload(input, by);
    const now = gateway.config.server.tls;
    // Parsing checked that the key belongs to the certificate; connections open already keep the one they agreed on.
    if (result.applied && result.changed.includes('server.tls') && now && 'setSecureContext' in server) {
      server.setSecureContext({ cert: now.cert, key: now.key });
    }
    return result;
  };
  const { configSource, onReload } = options;
  const reloadFromSource = async (by: ReloadActor): Promise<ReloadResult> => {
    if (!configSource) return { applied: false, problems: ['this gateway was given no configuration source to reload from'] };
    const result = await reload(configSource, by);
    onReload?.(result, by);
    return result;
  };
  const routes: Record<string, AdminRoute> = configSource ? { [RELOAD_PATH]: reloadHandler(reloadFromSource) } : {};
  const admin = gateway.config.admin ? createAdminListener(gateway, { routes }) : undefined;

  return {
    gateway,
    server,
    admin,
    async listen(port = gateway.config.server.port, host = gateway.config.server.host) {
      await gateway.connectors?.listen();
      await admin?.listen();
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve(server.address() as AddressInfo);
        });
      });
    },
    reload,
    reloadFromSource,
    async close(options) {
      try {
        await shutdown(server, gateway, options);
      } finally {
        // Last: probes and scrapes keep answering while requests drain.
        await admin?.close();
      }
    },
  };
}

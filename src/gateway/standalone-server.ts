import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createAdminListener, type AdminListener } from '../admin/admin-listener.ts';
import type { GatewayConfig } from '../config/parse.ts';
import type { GatewayConfigInput } from '../config/schema.ts';
import { createGateway, type Gateway, type GatewayOptions } from './create-gateway.ts';
import { MAX_REQUEST_HEADER_BYTES } from '../limits.ts';
import { shutdown, type ShutdownOptions } from './shutdown.ts';

/** A gateway on an HTTP(S) server of its own, as `gatehouse serve` runs it. */
export interface GatewayServer {
  readonly gateway: Gateway;
  readonly server: HttpServer | HttpsServer;
  /** The admin listener (health, readiness, metrics) when `admin.listen` is configured: opened by `listen()`, closed by `close()`. */
  readonly admin: AdminListener | undefined;
  /** Listens on config.server.host/port unless given; resolves with the bound address. Opens the connector listener too. */
  listen(port?: number, host?: string): Promise<AddressInfo>;
  /**
   * Graceful shutdown (see `shutdown()`): stops accepting, lets requests and WebSockets in flight finish until
   * `server.shutdownTimeout` (or `options.timeoutMs`), cuts what is left, then releases the gateway.
   */
  close(options?: ShutdownOptions): Promise<void>;
}

/** A stand-alone cloud side: an Express app that is only the gateway, on its own server. */
export function createGatewayServer(input: GatewayConfigInput | GatewayConfig, options: GatewayOptions = {}): GatewayServer {
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
  const admin = gateway.config.admin ? createAdminListener(gateway) : undefined;

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

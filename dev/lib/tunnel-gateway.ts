/**
 * A gateway in front of a TunnelPool on 127.0.0.1: Express +
 * http-proxy-middleware 4 with one TunnelAgent per app, without sign-in or
 * policy, for the tunnel's parts wired together by hand.
 */
import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import express from 'express';
import { createProxyMiddleware, type RequestHandler as ProxyHandler } from 'http-proxy-middleware';
import { isTunnelError } from '../../src/errors/tunnel-error.ts';
import { TunnelAgent } from '../../src/tunnel/tunnel-agent.ts';
import type { TunnelPool } from '../../src/tunnel/tunnel-pool.ts';

export interface GatewayApp {
  readonly id: string;
  readonly connectorGroup: string;
  readonly protocol?: 'http:' | 'https:';
}

export interface GatewaySide {
  readonly port: number;
  readonly url: string;
  readonly agents: ReadonlyMap<string, TunnelAgent>;
  readonly server: HttpServer;
  close(): Promise<void>;
}

/** Mirrors src/forwarding/app-proxy.ts: a backend timeout set on every proxied request. */
const BACKEND_TIMEOUT_MS = 85_000;

/**
 * Express + http-proxy-middleware 4, one TunnelAgent per app; `/<appId>/...`
 * goes to that app (WebSocket upgrades too). Errors answer with the tunnel
 * error's status and `{ code, beforeUpstream }`.
 */
export async function startGateway(pool: TunnelPool, apps: readonly GatewayApp[]): Promise<GatewaySide> {
  const agents = new Map<string, TunnelAgent>();
  const proxies = new Map<string, ProxyHandler>();
  for (const app of apps) {
    const protocol = app.protocol ?? 'http:';
    const agent = new TunnelAgent({ pool, app, protocol });
    agents.set(app.id, agent);
    proxies.set(
      app.id,
      createProxyMiddleware<IncomingMessage>({
        target: `${protocol}//${app.id}.internal.test`,
        agent,
        changeOrigin: true,
        ejectPlugins: true,
        plugins: [
          (proxy) => {
            proxy.on('proxyReq', (proxyReq) => {
              proxyReq.setTimeout(BACKEND_TIMEOUT_MS, () => proxyReq.destroy(new Error('backend timeout')));
            });
            proxy.on('error', (error, _req, res) => {
              if (!res) return;
              if (!('setHeader' in res) || res.headersSent) {
                res.destroy();
                return;
              }
              const tunnel = isTunnelError(error) ? error : undefined;
              res.statusCode = tunnel?.status ?? 502;
              res.setHeader('content-type', 'application/json');
              res.end(
                JSON.stringify({ code: tunnel?.code ?? (error as NodeJS.ErrnoException).code ?? 'unknown', beforeUpstream: tunnel?.beforeUpstream ?? null }),
              );
            });
          },
        ],
      }),
    );
  }
  const app = express();
  app.disable('x-powered-by');
  for (const [id, proxy] of proxies) app.use(`/${id}`, proxy);
  const server = createHttpServer(app);
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const match = /^\/([a-z0-9-]+)(\/.*)?$/.exec(req.url ?? '');
    const proxy = match ? proxies.get(match[1] ?? '') : undefined;
    if (!match || !proxy) {
      socket.destroy();
      return;
    }
    req.url = match[2] ?? '/';
    proxy.upgrade(req, socket, head);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    agents,
    server,
    async close() {
      for (const agent of agents.values()) agent.destroy();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

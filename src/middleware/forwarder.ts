import { Agent as HttpAgent, type IncomingMessage, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Socket } from 'node:net';
import type { RequestHandler } from 'express';
import { createProxyMiddleware, type RequestHandler as ProxyHandler } from 'http-proxy-middleware';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AppConfig } from '../config/parse.ts';
import { GatehouseError } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import { X_ROBOTS_TAG } from '../robots/robots-denier.ts';
import { auditContext } from './audit-context.ts';
import { getRequestContext } from './context.ts';
import { sendError } from './error-response.ts';
import { filterBackendSetCookies, prepareUpstreamRequest } from './upstream-headers.ts';

/** The forwarding step: one replaceable middleware that sends the request on. */
export interface Forwarder {
  readonly handler: RequestHandler;
  close(): void;
}

export interface DirectForwarderOptions {
  readonly apps: readonly AppConfig[];
  readonly sessionCookieBase: string;
  readonly audit: AuditLog;
  readonly logger: Logger;
}

const BACKEND_TIMEOUT = 'GATEHOUSE_BACKEND_TIMEOUT';

/**
 * Forwards straight to each app's internal URL with http-proxy-middleware
 * and a keep-alive agent. The tunnel dispatcher (connector issue) replaces
 * this step without touching the ones before it.
 */
export function createDirectForwarder(options: DirectForwarderOptions): Forwarder {
  const agents: Array<HttpAgent | HttpsAgent> = [];
  const proxies = new Map<string, ProxyHandler>();
  for (const app of options.apps) {
    const target = new URL(app.internalUrl);
    const agent = target.protocol === 'https:' ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
    agents.push(agent);
    const timeoutMs = app.timeouts.backend * 1000;
    proxies.set(
      app.id,
      createProxyMiddleware<IncomingMessage, ServerResponse>({
        target: target.href,
        changeOrigin: app.hostHeader === 'internal',
        agent,
        xfwd: false,
        ejectPlugins: true,
        plugins: [
          (proxy) => {
            proxy.on('proxyReq', (proxyReq, req) => {
              const context = getRequestContext(req);
              if (context) prepareUpstreamRequest(proxyReq, req, app, context, options.sessionCookieBase);
              // An idle backend gets a clear 504, not a hang (field lesson 16).
              proxyReq.setTimeout(timeoutMs, () => {
                proxyReq.destroy(Object.assign(new Error('backend timeout'), { code: BACKEND_TIMEOUT }));
              });
            });
            proxy.on('proxyRes', (proxyRes) => {
              filterBackendSetCookies(proxyRes, options.sessionCookieBase);
              if (app.crawlers === 'deny') proxyRes.headers['x-robots-tag'] = X_ROBOTS_TAG;
            });
            proxy.on('error', (error, req, res) => {
              if (!req || !res) return;
              onProxyError(error, req, res, app, options);
            });
          },
        ],
      }),
    );
  }

  return {
    handler: (req, res, next) => {
      const app = getRequestContext(req)?.app;
      const proxy = app ? proxies.get(app.id) : undefined;
      if (!proxy) {
        next();
        return;
      }
      return proxy(req, res, next);
    },
    close() {
      for (const agent of agents) agent.destroy();
    },
  };
}

function onProxyError(
  error: Error,
  req: IncomingMessage,
  res: ServerResponse | Socket,
  app: AppConfig,
  options: DirectForwarderOptions,
): void {
  const code = (error as NodeJS.ErrnoException).code ?? 'unknown';
  const timedOut = code === BACKEND_TIMEOUT || code === 'ETIMEDOUT';
  const failure = new GatehouseError(timedOut ? 'ERR_BACKEND_TIMEOUT' : 'ERR_BACKEND_UNREACHABLE', `backend_${code}`);
  options.logger.warn({ app: app.id, code, requestId: getRequestContext(req)?.requestId }, 'backend request failed');
  options.audit.emit({
    type: 'forward.failed',
    outcome: 'failure',
    code: failure.code,
    reason: failure.reason,
    ...auditContext(req),
  });
  if ('setHeader' in res) sendError(req, res, failure);
  else res.destroy();
}

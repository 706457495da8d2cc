import type { Agent as HttpAgent, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createProxyMiddleware, type RequestHandler as ProxyHandler } from 'http-proxy-middleware';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AppConfig } from '../config/parse.ts';
import { GatehouseError } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import { X_ROBOTS_TAG } from '../robots/robots-denier.ts';
import { auditContext } from './audit-context.ts';
import { getRequestContext } from './context.ts';
import { sendError } from './error-response.ts';
import { createLinkTranslator } from './link-translation.ts';
import { filterBackendSetCookies, prepareUpstreamRequest } from './upstream-headers.ts';

export interface AppProxyOptions {
  readonly app: AppConfig;
  /** Where connections come from: a keep-alive agent to the app, or the tunnel agent. */
  readonly agent: HttpAgent;
  readonly sessionCookieBase: string;
  readonly audit: AuditLog;
  readonly logger: Logger;
  /** Maps a transport failure to the error the user sees; the default knows refused and timed-out backends. */
  readonly classify?: (error: Error) => GatehouseError | undefined;
}

export const BACKEND_TIMEOUT = 'GATEHOUSE_BACKEND_TIMEOUT';

/**
 * http-proxy-middleware for one app, with Gatehouse's rules hooked in through
 * its events (STYLE: plugins, not a fork): header hygiene and identity on the
 * way in; cookie filtering, noindex and link translation on the way out,
 * headers only; and coded errors that never name the backend.
 */
export function createAppProxy(options: AppProxyOptions): ProxyHandler {
  const { app } = options;
  const timeoutMs = app.timeouts.backend * 1000;
  const links = createLinkTranslator(app);
  return createProxyMiddleware<IncomingMessage, ServerResponse>({
    target: app.internalUrl,
    changeOrigin: app.hostHeader === 'internal',
    agent: options.agent,
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
        proxy.on('proxyReqWs', (proxyReq, req) => {
          const context = getRequestContext(req);
          if (context) prepareUpstreamRequest(proxyReq, req, app, context, options.sessionCookieBase);
        });
        proxy.on('proxyRes', (proxyRes) => {
          filterBackendSetCookies(proxyRes, options.sessionCookieBase);
          const location = proxyRes.headers.location;
          if (location) proxyRes.headers.location = links.location(location);
          const cookies = proxyRes.headers['set-cookie'];
          if (cookies) proxyRes.headers['set-cookie'] = cookies.map((line) => links.setCookie(line));
          if (app.crawlers === 'deny') proxyRes.headers['x-robots-tag'] = X_ROBOTS_TAG;
        });
        proxy.on('error', (error, req, res) => {
          if (!req || !res) return;
          onProxyError(error, req, res, options);
        });
      },
    ],
  });
}

function onProxyError(error: Error, req: IncomingMessage, res: ServerResponse | Socket, options: AppProxyOptions): void {
  const code = (error as NodeJS.ErrnoException).code ?? 'unknown';
  const failure =
    options.classify?.(error) ??
    new GatehouseError(code === BACKEND_TIMEOUT || code === 'ETIMEDOUT' ? 'ERR_BACKEND_TIMEOUT' : 'ERR_BACKEND_UNREACHABLE', `backend_${code}`);
  options.logger.warn({ app: options.app.id, code, requestId: getRequestContext(req)?.requestId }, 'forwarding failed');
  options.audit.emit({ type: 'forward.failed', outcome: 'failure', code: failure.code, reason: failure.reason, ...auditContext(req) });
  if ('setHeader' in res) sendError(req, res, failure);
  else res.destroy();
}

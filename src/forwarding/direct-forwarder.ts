import { Agent as HttpAgent, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { Agent as HttpsAgent } from 'node:https';
import type { RequestHandler } from 'express';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AppConfig } from '../config/parse.ts';
import type { Logger } from '../logging/logger.ts';
import type { ForwardingRules } from './upstream-request.ts';
import { createAppProxy, type AppProxy } from './app-proxy.ts';
import { getRequestContext } from '../request/context.ts';

/** The forwarding step: one replaceable middleware that sends the request on. */
export interface Forwarder {
  readonly handler: RequestHandler;
  /** Forwards an upgrade (WebSocket) that already passed the gate. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  close(): void;
}

export interface DirectForwarderOptions {
  readonly apps: readonly AppConfig[];
  /** What the forwarding step removes from requests (built once by the gateway). */
  readonly rules: ForwardingRules;
  readonly audit: AuditLog;
  readonly logger: Logger;
}

/**
 * Forwards straight to each app's internal URL with a keep-alive agent, for
 * apps the gateway can reach itself (and for tests). With connectors
 * configured, the tunnel dispatcher takes this step's place.
 */
export function createDirectForwarder(options: DirectForwarderOptions): Forwarder {
  const agents: Array<HttpAgent | HttpsAgent> = [];
  const proxies = new Map<string, AppProxy>();
  for (const app of options.apps) {
    const tls = app.internalTls;
    const agent =
      new URL(app.internalUrl).protocol === 'https:'
        ? new HttpsAgent({ keepAlive: true, ...(tls?.ca ? { ca: tls.ca } : {}), ...(tls?.serverName ? { servername: tls.serverName } : {}) })
        : new HttpAgent({ keepAlive: true });
    agents.push(agent);
    proxies.set(app.id, createAppProxy({ app, agent, rules: options.rules, audit: options.audit, logger: options.logger }));
  }
  return {
    handler: (req, res, next) => {
      const app = getRequestContext(req)?.app;
      const proxy = app ? proxies.get(app.id) : undefined;
      if (!proxy) {
        next();
        return;
      }
      return proxy.web(req, res, next);
    },
    upgrade(req, socket, head) {
      const app = getRequestContext(req)?.app;
      const proxy = app ? proxies.get(app.id) : undefined;
      if (!proxy) {
        socket.destroy();
        return;
      }
      proxy.upgrade(req, socket, head);
    },
    close() {
      for (const agent of agents) agent.destroy();
    },
  };
}

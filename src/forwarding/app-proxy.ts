import type { Agent as HttpAgent, ClientRequest, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import type { NextFunction } from 'express';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AppConfig } from '../config/parse.ts';
import { GatehouseError } from '../errors/index.ts';
import { createResponseHeadFilter } from './downstream-response.ts';
import { isReservedPath } from '../request/request-target.ts';
import { hasBasePath, hasDotSegment } from './base-path.ts';
import { upstreamRequestHeaders, type ForwardingRules } from './upstream-request.ts';
import { forwardRequest, forwardTarget, type ForwardHooks } from './forward-request.ts';
import { forwardUpgrade, UPGRADE_TIMEOUT } from './websocket-forwarder.ts';
import { BACKEND_TIMEOUT, backendIdle, isEventStream } from './backend-idle.ts';
import type { Logger } from '../logging/logger.ts';
import { auditContext } from '../request/audit-context.ts';
import { getRequestContext } from '../request/context.ts';
import { sendError } from '../errors/render-user.ts';
import { rejectUpgrade } from '../errors/render-raw.ts';

export interface AppProxyOptions {
  readonly app: AppConfig;
  /** Where connections come from: a keep-alive agent to the app, or the tunnel agent. */
  readonly agent: HttpAgent;
  readonly rules: ForwardingRules;
  readonly audit: AuditLog;
  readonly logger: Logger;
  /** Maps a transport failure to the error the user sees; the default knows refused and timed-out backends. */
  readonly classify?: (error: Error) => GatehouseError | undefined;
  /** Told, per request, the seconds from the request dispatched to the agent to the backend's response headers (metrics). */
  readonly onResponseHead?: (seconds: number) => void;
  /** Sent as `Retry-After` with a 503: nothing is free to carry the request now, but soon may be. */
  readonly retryAfterSeconds?: number;
}

export interface AppProxy {
  web(req: IncomingMessage, res: ServerResponse, next: NextFunction): unknown;
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

/**
 * Forwarding for one app. What reaches the backend and what comes back are
 * decided here, by Gatehouse's own functions, on every path:
 * `upstreamRequestHeaders` makes the request's headers, and
 * `createResponseHeadFilter` filters every response head — in the forwarder
 * (forward-request.ts) for plain requests, and in the WebSocket forwarder for
 * handshakes (101s and refusals). Errors are coded and never name the backend.
 */
export function createAppProxy(options: AppProxyOptions): AppProxy {
  const { app, rules } = options;
  const idle = backendIdle(app.timeouts);
  const filterHead = createResponseHeadFilter(app, rules.sessionCookieBase);
  const target = forwardTarget(app.internalUrl);
  // Most internal URLs have no path: their targets need no dot-segment check (see base-path.ts).
  const basePath = hasBasePath(app.internalUrl);
  const leavesBase = (url: string | undefined): boolean => basePath && hasDotSegment(url ?? '/');
  const { onResponseHead } = options;
  const head = (res: ServerResponse, upstream: ClientRequest, response: IncomingMessage, startedAt: number): OutgoingHttpHeaders => {
    onResponseHead?.((performance.now() - startedAt) / 1000);
    idle.afterHead(upstream, response.headers);
    // An event stream's head is news to the client (EventSource opens on it) and may come long before its first
    // event: send it once the head is set up, instead of with the first body bytes.
    if (isEventStream(response.headers)) process.nextTick(() => !res.headersSent && !res.destroyed && res.flushHeaders());
    const filtered = filterHead(response.headers);
    // The client's connection is Gatehouse's business: as Node decided from the client's request, never as the backend said.
    filtered.connection = res.shouldKeepAlive ? 'keep-alive' : 'close';
    return filtered;
  };
  const failed = (req: IncomingMessage, res: ServerResponse, error: Error): void => {
    const failure = failureOf(error, req, options);
    if (failure.status === 503 && options.retryAfterSeconds !== undefined && !res.headersSent) res.setHeader('Retry-After', String(options.retryAfterSeconds));
    sendError(req, res, failure);
  };
  const hooks: ForwardHooks = {
    // An idle backend gets a clear 504, not a hang.
    started: (upstream) => idle.untilHead(upstream, () => upstream.destroy(Object.assign(new Error('backend timeout'), { code: BACKEND_TIMEOUT }))),
    head,
    failed,
  };

  const refuse = (req: IncomingMessage, error: GatehouseError): GatehouseError => {
    options.audit.emit({ type: 'request.rejected', outcome: 'failure', code: error.code, reason: error.reason, ...auditContext(req) });
    return error;
  };

  return {
    web(req, res) {
      const context = getRequestContext(req);
      if (!context) throw new GatehouseError('ERR_INTERNAL', 'forwarding_without_context');
      if (isReservedPath(req.url ?? '/')) {
        sendError(req, res, refuse(req, new GatehouseError('ERR_NOT_FOUND', 'reserved_path')));
        return undefined;
      }
      if (leavesBase(req.url)) {
        sendError(req, res, refuse(req, leavesBaseError()));
        return undefined;
      }
      const headers = upstreamRequestHeaders(req, app, context, rules, 'http');
      if (headers instanceof GatehouseError) {
        sendError(req, res, refuse(req, headers));
        return undefined;
      }
      if (app.hostHeader === 'internal') headers['host'] = target.host;
      forwardRequest(req, res, target, headers, options.agent, hooks);
      return undefined;
    },
    upgrade(req, socket, head) {
      const context = getRequestContext(req);
      if (!context) {
        socket.destroy();
        return;
      }
      if (leavesBase(req.url)) {
        rejectUpgrade(socket, refuse(req, leavesBaseError()), { requestId: context.requestId, appId: app.id });
        return;
      }
      const headers = upstreamRequestHeaders(req, app, context, rules, 'upgrade');
      if (headers instanceof GatehouseError) {
        rejectUpgrade(socket, refuse(req, headers), { requestId: context.requestId, appId: app.id });
        return;
      }
      forwardUpgrade(req, socket, head, {
        app,
        agent: options.agent,
        headers,
        filterHead,
        idle,
        onFailure: (error) =>
          rejectUpgrade(socket, failureOf(error, req, options), { requestId: context.requestId, appId: app.id, retryAfterSeconds: options.retryAfterSeconds }),
      });
    },
  };
}

function leavesBaseError(): GatehouseError {
  return new GatehouseError('ERR_BAD_REQUEST', 'request_target_leaves_base_path');
}

function failureOf(error: Error, req: IncomingMessage, options: AppProxyOptions): GatehouseError {
  const code = (error as NodeJS.ErrnoException).code ?? 'unknown';
  const timedOut = code === BACKEND_TIMEOUT || code === UPGRADE_TIMEOUT || code === 'ETIMEDOUT';
  const failure = options.classify?.(error) ?? new GatehouseError(timedOut ? 'ERR_BACKEND_TIMEOUT' : 'ERR_BACKEND_UNREACHABLE', `backend_${code}`);
  options.logger.warn({ app: options.app.id, code, requestId: getRequestContext(req)?.requestId }, 'forwarding failed');
  options.audit.emit({ type: 'forward.failed', outcome: 'failure', code: failure.code, reason: failure.reason, ...auditContext(req) });
  return failure;
}

import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import type { AppConfig } from '../config/parse.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { GatehouseError } from '../errors.ts';
import { getRequestContext } from './context.ts';
import { sendError } from './error-response.ts';

export interface AppResolutionOptions {
  readonly apps: readonly AppConfig[];
  /** `reject` answers 404 for hosts that publish no app; `next` leaves them to the host application. */
  readonly unknownHost?: 'reject' | 'next';
  readonly audit?: AuditLog;
}

/** Maps a normalized `host[:port]` to its app. */
export type AppTable = (req: IncomingMessage) => AppConfig | undefined;

export function createAppTable(apps: readonly AppConfig[]): AppTable {
  const byHost = new Map<string, AppConfig>();
  for (const app of apps) byHost.set(new URL(app.externalUrl).host, app);
  return (req) => {
    const host = normalizeHost(req.headers.host);
    if (host === undefined) return undefined;
    // URL.host omits the scheme's default port, so "wiki.example.com:443" means "wiki.example.com".
    return byHost.get(host) ?? byHost.get(host.replace(/:(80|443)$/, ''));
  };
}

const HOST = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::(\d{1,5}))?$/;

/**
 * Lower-cases the Host header, drops a trailing dot, and refuses anything that is not a plain host name or address.
 */
export function normalizeHost(raw: string | undefined): string | undefined {
  if (raw === undefined || raw.length > 260) return undefined;
  const match = HOST.exec(
    raw
      .trim()
      .toLowerCase()
      .replace(/\.(?=:\d+$|$)/, ''),
  );
  if (!match) return undefined;
  return match[0];
}

/** Step 2 of the request path: the Host header selects the published app. */
export function appResolution(options: AppResolutionOptions): RequestHandler {
  const table = createAppTable(options.apps);
  const unknownHost = options.unknownHost ?? 'reject';
  return (req, res, next) => {
    const context = getRequestContext(req);
    const app = table(req);
    if (app && context) {
      context.app = app;
      next();
      return;
    }
    if (unknownHost === 'next') {
      next();
      return;
    }
    options.audit?.emit({
      type: 'request.rejected',
      outcome: 'failure',
      code: 'ERR_UNKNOWN_HOST',
      reason: 'unknown_host',
      clientIp: context?.clientIp,
      userAgent: context?.userAgent,
      requestId: context?.requestId,
    });
    sendError(req, res, new GatehouseError('ERR_UNKNOWN_HOST', 'unknown_host'));
  };
}

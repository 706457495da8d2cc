import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import type { AppConfig } from '../config/parse.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { GatehouseError } from '../errors.ts';
import { getRequestContext } from './context.ts';
import { sendError } from '../middleware/error-response.ts';

export interface AppResolutionOptions {
  readonly apps: readonly AppConfig[];
  /** `reject` answers 404 for hosts that publish no app; `next` leaves them to the host application. */
  readonly unknownHost?: 'reject' | 'next';
  readonly audit?: AuditLog;
  /** The table to resolve with, shared with the other steps that need the app; default: one built from `apps`. */
  readonly table?: AppTable;
}

/** Maps a normalized `host[:port]` to its app. */
export type AppTable = (req: IncomingMessage) => AppConfig | undefined;

/** Resolves each request once, however many steps ask (the robots denier, app resolution, the upgrade handler). */
export function createAppTable(apps: readonly AppConfig[]): AppTable {
  const byHost = new Map<string, AppConfig>();
  for (const app of apps) byHost.set(new URL(app.externalUrl).host, app);
  const resolved = new WeakMap<IncomingMessage, AppConfig | null>();
  return (req) => {
    const known = resolved.get(req);
    if (known !== undefined) return known ?? undefined;
    const host = normalizeHost(req.headers.host);
    // URL.host omits the scheme's default port, so "wiki.example.com:443" means "wiki.example.com".
    const app = host === undefined ? undefined : (byHost.get(host) ?? byHost.get(host.replace(/:(80|443)$/, '')));
    resolved.set(req, app ?? null);
    return app;
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
  const table = options.table ?? createAppTable(options.apps);
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

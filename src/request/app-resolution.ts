import type { IncomingMessage } from 'node:http';
import type { AppConfig } from '../config/parse.ts';
import { GatehouseError } from '../errors/index.ts';
import { CONTINUE, type Step } from './step.ts';

/** Maps a normalized `host[:port]` to its app. */
export type AppTable = (req: IncomingMessage) => AppConfig | undefined;

/** Resolves each request once, however many steps ask (the robots denier, app resolution, the upgrade handler). */
export function createAppTable(apps: readonly AppConfig[]): AppTable {
  const byHost = new Map<string, AppConfig>();
  for (const app of apps) byHost.set(new URL(app.externalUrl).host, app);
  // On the request under this table's own symbol (a reload's table resolves afresh): cheaper than a WeakMap entry.
  const RESOLVED = Symbol('gatehouse.app');
  type Resolved = IncomingMessage & { [RESOLVED]?: AppConfig | null };
  // Clients send the same few Host headers on every request: their answers are kept, within a bound (a client
  // inventing names gets them normalized each time, as before, once the bound is reached).
  const byRawHost = new Map<string, AppConfig | null>();
  return (req) => {
    const known = (req as Resolved)[RESOLVED];
    if (known !== undefined) return known ?? undefined;
    const raw = req.headers.host;
    let app = raw === undefined ? undefined : byRawHost.get(raw);
    if (app === undefined) {
      const host = normalizeHost(raw);
      // URL.host omits the scheme's default port, so "wiki.example.com:443" means "wiki.example.com".
      app = (host === undefined ? undefined : (byHost.get(host) ?? byHost.get(host.replace(/:(80|443)$/, '')))) ?? null;
      if (raw !== undefined && raw.length <= 260 && byRawHost.size < MAX_REMEMBERED_HOSTS) byRawHost.set(raw, app);
    }
    (req as Resolved)[RESOLVED] = app;
    return app ?? undefined;
  };
}

const MAX_REMEMBERED_HOSTS = 1024;

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

export interface AppResolutionStepOptions {
  readonly table: AppTable;
  /** `reject` refuses hosts that publish no app; `next` lets them on without an app, for the host application. */
  readonly unknownHost: 'reject' | 'next';
}

/** Step 3, app resolution: the Host header selects the published app. */
export function appResolutionStep(options: AppResolutionStepOptions): Step {
  return ({ req, context }) => {
    const app = options.table(req);
    if (app) {
      context.app = app;
      return CONTINUE;
    }
    if (options.unknownHost === 'next') return CONTINUE;
    return { kind: 'error', error: new GatehouseError('ERR_UNKNOWN_HOST', 'unknown_host'), rejectsRequest: true };
  };
}

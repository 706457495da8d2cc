/**
 * The health endpoints as plain Node handlers, shared by every place that
 * serves them (published hosts, the admin listener, the connector's metrics
 * address): liveness answers 200 as long as the process can answer at all;
 * readiness runs the checks and answers 200 or 503 with each check's result.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export const HEALTHZ_PATH = '/.gatehouse/healthz';
export const READYZ_PATH = '/.gatehouse/readyz';

export type HealthEndpoint = 'healthz' | 'readyz';

/** What a readiness answer must carry; the rest of it (its checks) is written as given. */
export interface ReadinessReport {
  readonly status: 'ready' | 'not_ready';
}

/** Which health endpoint a request target names on a published host or the admin listener, query string ignored. */
export function healthEndpoint(url: string | undefined): HealthEndpoint | undefined {
  const path = pathOf(url ?? '');
  if (path === HEALTHZ_PATH) return 'healthz';
  if (path === READYZ_PATH) return 'readyz';
  return undefined;
}

/**
 * Answers one health request: GET or HEAD (405 otherwise), never cached. Liveness is `{ "status": "ok" }`; readiness
 * is the report with 200 when its status is `ready`, else 503 (also when the checks themselves fail).
 */
export function answerHealth(req: IncomingMessage, res: ServerResponse, endpoint: HealthEndpoint, readiness: () => Promise<ReadinessReport>): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    writeJson(req, res, 405, { error: 'method_not_allowed' });
    return;
  }
  if (endpoint === 'healthz') {
    writeJson(req, res, 200, { status: 'ok' });
    return;
  }
  readiness().then(
    (report) => writeJson(req, res, report.status === 'ready' ? 200 : 503, report),
    () => writeJson(req, res, 503, { status: 'not_ready', error: 'checks_failed' }),
  );
}

/** JSON with a length, no caching; the body left out for HEAD. */
export function writeJson(req: IncomingMessage, res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const text = `${JSON.stringify(body)}\n`;
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(req.method === 'HEAD' ? undefined : text);
}

export function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

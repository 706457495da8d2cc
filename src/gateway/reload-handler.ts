/**
 * `POST /.gatehouse/admin/reload` as a plain Node/Express handler, for the
 * admin listener (a private address). Even there a browser on an operator's
 * machine could be made to post to it from another site, so only POST is
 * taken, and a request a browser marks as cross-site (`Sec-Fetch-Site`, or an
 * `Origin` that is not the host asked) is refused before anything is read.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ReloadActor, ReloadResult } from './reload.ts';

/** The path the handler answers on, where it is mounted. */
export const RELOAD_PATH = '/.gatehouse/admin/reload';

/**
 * Answers a reload request: 200 with `{ applied: true, changed, warnings }`, 422 with `{ applied: false, problems }`,
 * 405 for another method, 403 for a cross-site request. `reload` is given who asked (`source: 'admin'`, address, user agent).
 */
export function reloadHandler(reload: (by: ReloadActor) => Promise<ReloadResult>): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      answer(res, 405, { error: 'method_not_allowed', message: 'POST to reload the configuration' });
      return;
    }
    if (crossSite(req)) {
      answer(res, 403, { error: 'cross_site', message: 'a reload is refused from another site' });
      return;
    }
    // The body says nothing: drain it so that the connection can be kept.
    req.resume();
    reload({ source: 'admin', clientIp: req.socket.remoteAddress, userAgent: req.headers['user-agent'] }).then(
      (result) => answer(res, result.applied ? 200 : 422, result),
      (error: unknown) => answer(res, 500, { error: 'reload_failed', message: error instanceof Error ? error.message : String(error) }),
    );
  };
}

function crossSite(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return true;
  const origin = req.headers.origin;
  if (origin === undefined) return false;
  if (!URL.canParse(origin)) return true;
  return new URL(origin).host !== req.headers.host;
}

function answer(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(`${JSON.stringify(body)}\n`);
}

import type { IncomingMessage } from 'node:http';

/**
 * Whether a request that lacks a session should be redirected to sign in
 * (a top-level browser navigation) or answered 401 with JSON (everything else:
 * XHR/fetch, APIs, WebSocket upgrades, non-GET).
 */
export function wantsRedirect(req: IncomingMessage): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  if (req.headers.upgrade !== undefined) return false;
  const mode = header(req, 'sec-fetch-mode');
  const dest = header(req, 'sec-fetch-dest');
  if (mode !== undefined || dest !== undefined) return mode === 'navigate' || dest === 'document';
  if (header(req, 'x-requested-with') !== undefined) return false;
  return prefersHtml(header(req, 'accept'));
}

/** Whether an error should be rendered as an HTML page rather than JSON. */
export function wantsHtml(req: IncomingMessage): boolean {
  const dest = header(req, 'sec-fetch-dest');
  if (dest !== undefined) return dest === 'document' || dest === 'iframe';
  if (header(req, 'x-requested-with') !== undefined) return false;
  return prefersHtml(header(req, 'accept'));
}

/** True when Accept names text/html explicitly with a quality at least that of JSON. */
export function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  let html = -1;
  let json = -1;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.trim().toLowerCase().split(';');
    const q = quality(params);
    if (type === 'text/html' || type === 'application/xhtml+xml') html = Math.max(html, q);
    else if (type === 'application/json' || type.endsWith('+json')) json = Math.max(json, q);
  }
  return html > 0 && html >= json;
}

function quality(params: readonly string[]): number {
  for (const param of params) {
    const [key, value] = param.trim().split('=');
    if (key === 'q' && value !== undefined) {
      const q = Number(value);
      return Number.isFinite(q) ? q : 0;
    }
  }
  return 1;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Writing a console answer: a whole page with its security headers, or a redirect. */
import type { ServerResponse } from 'node:http';
import type { Html } from './html.ts';

/**
 * No script at all, styles only from the console's own stylesheet, forms only to
 * itself, never framed: an injected tag would have nothing to run.
 */
export const CONSOLE_CSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export function securityHeaders(res: ServerResponse): void {
  res.setHeader('Content-Security-Policy', CONSOLE_CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'same-origin');
  res.setHeader('Cache-Control', 'no-store');
}

export function sendPage(res: ServerResponse, status: number, page: Html): void {
  if (res.headersSent) return;
  securityHeaders(res);
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.end(page.text);
}

export function redirect(res: ServerResponse, location: string): void {
  securityHeaders(res);
  res.statusCode = 303;
  res.setHeader('Location', location);
  res.end();
}

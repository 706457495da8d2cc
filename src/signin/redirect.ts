import type { ServerResponse } from 'node:http';

/** A navigation sent elsewhere to sign in: 302, never cached. */
export function redirectNavigation(res: ServerResponse, location: string): void {
  res.statusCode = 302;
  res.setHeader('Location', location);
  res.setHeader('Cache-Control', 'no-store');
  res.end();
}

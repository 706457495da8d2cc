import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';

/** Every path disallowed to every crawler: a published app is private, and even its sign-in page should not be indexed. */
export const ROBOTS_TXT = 'User-agent: *\nDisallow: /\n';

export const X_ROBOTS_TAG = 'noindex, nofollow';

export interface RobotsDenierOptions {
  /** Return true for requests this denier must leave alone: apps with `crawlers: backend`, or hosts that are not ours. */
  readonly skip?: (req: IncomingMessage) => boolean;
}

/**
 * Step 1 of the request path, before any authentication: answers
 * GET/HEAD /robots.txt itself and marks every response noindex, so crawlers
 * never start sign-ins.
 */
export function robotsDenier(options: RobotsDenierOptions = {}): RequestHandler {
  return (req, res, next) => {
    if (options.skip?.(req)) {
      next();
      return;
    }
    res.setHeader('X-Robots-Tag', X_ROBOTS_TAG);
    if ((req.method !== 'GET' && req.method !== 'HEAD') || pathOf(req.url) !== '/robots.txt') {
      next();
      return;
    }
    res.statusCode = 200;
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.setHeader('Content-Length', Buffer.byteLength(ROBOTS_TXT));
    res.setHeader('Cache-Control', 'public, max-age=86400');
    res.end(req.method === 'HEAD' ? undefined : ROBOTS_TXT);
  };
}

function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

import type { IncomingHttpHeaders } from 'node:http';
import type { AppConfig } from '../config/parse.ts';
import { createLinkTranslator } from '../middleware/link-translation.ts';
import { X_ROBOTS_TAG } from '../robots/robots-denier.ts';
import { setsGatehouseCookie } from './gatehouse-cookies.ts';

/** Filters the head of whatever a backend answers, before any of it reaches the client. */
export type ResponseHeadFilter = (headers: IncomingHttpHeaders) => IncomingHttpHeaders;

/**
 * One filter for every kind of backend answer (a normal response, a WebSocket
 * handshake's 101, an upgrade the backend refused): a backend may not set,
 * overwrite or clear Gatehouse's cookies; what the app says about its
 * internal address (redirects, cookie scopes) is translated to the external
 * URL; crawlers are told not to index. Headers only: bodies are never read.
 * Works on a copy, so it never depends on a library honouring a mutation.
 */
export function createResponseHeadFilter(app: AppConfig, sessionCookieBase: string): ResponseHeadFilter {
  const links = createLinkTranslator(app);
  const denyCrawlers = app.crawlers === 'deny';
  return (headers) => {
    const out: IncomingHttpHeaders = { ...headers };
    const cookies = headers['set-cookie'];
    if (cookies) {
      const kept = cookies.filter((line) => !setsGatehouseCookie(line, sessionCookieBase)).map((line) => links.setCookie(line));
      if (kept.length > 0) out['set-cookie'] = kept;
      else delete out['set-cookie'];
    }
    const location = headers.location;
    if (location) out.location = links.location(location);
    if (denyCrawlers) out['x-robots-tag'] = X_ROBOTS_TAG;
    return out;
  };
}

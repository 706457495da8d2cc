import type { IncomingHttpHeaders } from 'node:http';
import type { AppConfig } from '../config/parse.ts';
import { createLinkTranslator } from './link-translation.ts';
import { X_ROBOTS_TAG } from '../robots/robots-denier.ts';
import { setsGatehouseCookie } from './gatehouse-cookies.ts';

/**
 * Response headers that describe the backend's connection to Gatehouse, not
 * Gatehouse's to the client (RFC 9110 §7.6.1). `Transfer-Encoding` stays: it
 * frames the body being relayed, and Node re-frames it for the client.
 */
const RESPONSE_HOP_BY_HOP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'proxy-authenticate']);

/** Filters the head of whatever a backend answers, before any of it reaches the client. */
export type ResponseHeadFilter = (headers: IncomingHttpHeaders) => IncomingHttpHeaders;

/**
 * One filter for every kind of backend answer (a normal response, a WebSocket
 * handshake's 101, an upgrade the backend refused): a backend may not set,
 * overwrite or clear Gatehouse's cookies; what the app says about its
 * internal address (redirects, cookie scopes) is translated to the external
 * URL; crawlers are told not to index; hop-by-hop headers stay behind (the
 * caller states the client connection's own). Headers only: bodies are never read.
 * Works on a copy, so it never depends on a library honouring a mutation.
 */
export function createResponseHeadFilter(app: AppConfig, sessionCookieBase: string): ResponseHeadFilter {
  const links = createLinkTranslator(app);
  const denyCrawlers = app.crawlers === 'deny';
  return (headers) => {
    const named = namedTokens(headers.connection);
    const out: IncomingHttpHeaders = {};
    for (const name in headers) {
      if (!RESPONSE_HOP_BY_HOP.has(name) && !named.has(name)) out[name] = headers[name];
    }
    const cookies = out['set-cookie'];
    if (cookies) {
      const kept = cookies.filter((line) => !setsGatehouseCookie(line, sessionCookieBase)).map((line) => links.setCookie(line));
      if (kept.length > 0) out['set-cookie'] = kept;
      else delete out['set-cookie'];
    }
    const location = out.location;
    if (location) out.location = links.location(location);
    if (denyCrawlers) out['x-robots-tag'] = X_ROBOTS_TAG;
    return out;
  };
}

/** What most backends send, as sets made once: no set to build per response for them. */
const COMMON_TOKENS: ReadonlyMap<string | undefined, ReadonlySet<string>> = new Map([
  [undefined, new Set([''])],
  ['keep-alive', new Set(['keep-alive'])],
  ['close', new Set(['close'])],
]);

function namedTokens(connection: string | undefined): ReadonlySet<string> {
  return (
    COMMON_TOKENS.get(connection) ??
    new Set(
      String(connection ?? '')
        .split(',')
        .map((token) => token.trim().toLowerCase()),
    )
  );
}

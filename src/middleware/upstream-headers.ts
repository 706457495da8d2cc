import type { ClientRequest, IncomingMessage } from 'node:http';
import type { AppConfig } from '../config/parse.ts';
import { isGatehouseCookie } from '../session/cookies.ts';
import type { Identity, RequestContext } from './context.ts';
import { MAX_FORWARDED_GROUPS_BYTES } from '../limits.ts';
import { ASSERTION_HEADER } from './identity-assertion.ts';
import { externalUrlOf } from '../config/external-url.ts';

/**
 * Headers a client must never be able to set for the backend: forwarding
 * metadata, identity headers, and URL overrides some servers honour (field
 * lesson 13). Gatehouse sets its own versions after removing these.
 */
const CLIENT_FORBIDDEN = /^(?:x-forwarded-.*|forwarded|x-real-ip|x-client-ip|x-request-id|x-gatehouse-.*|x-original-url|x-original-uri|x-rewrite-url)$/;

/** Rewrites the outgoing request's headers just before it is sent upstream. */
export function prepareUpstreamRequest(
  proxyReq: ClientRequest,
  req: IncomingMessage,
  app: AppConfig,
  context: RequestContext,
  sessionCookieBase: string,
): void {
  const configured = app.identityHeaders;
  for (const name of proxyReq.getHeaderNames()) {
    if (CLIENT_FORBIDDEN.test(name) || isConfiguredIdentityHeader(configured, name)) proxyReq.removeHeader(name);
  }
  // The encrypted session cookie is never sent to the connector (reference, "Accessing published applications").
  const cookie = req.headers.cookie;
  if (cookie !== undefined) {
    const kept = withoutGatehouseCookies(cookie, sessionCookieBase);
    if (kept) proxyReq.setHeader('Cookie', kept);
    else proxyReq.removeHeader('Cookie');
  }
  const external = externalUrlOf(app);
  proxyReq.setHeader('X-Forwarded-For', context.clientIp);
  proxyReq.setHeader('X-Forwarded-Proto', external.scheme);
  proxyReq.setHeader('X-Forwarded-Host', external.host);
  proxyReq.setHeader('X-Request-Id', context.requestId);
  const identity = context.identity;
  if (identity) {
    for (const [header, claim] of Object.entries(configured)) {
      const value = identityValue(identity, claim);
      if (value !== undefined) proxyReq.setHeader(header, value);
    }
  }
  if (context.assertion) proxyReq.setHeader(ASSERTION_HEADER, context.assertion);
}

function isConfiguredIdentityHeader(configured: Readonly<Record<string, string>>, name: string): boolean {
  for (const header of Object.keys(configured)) if (header.toLowerCase() === name) return true;
  return false;
}

/** Header values carry only printable ASCII; anything else is percent-encoded so it cannot break the header. */
function identityValue(identity: Identity, claim: string): string | undefined {
  let value: string | undefined;
  switch (claim) {
    case 'sub':
      value = identity.sub;
      break;
    case 'email':
      value = identity.email;
      break;
    case 'name':
      value = identity.name;
      break;
    case 'groups':
      // Left out, never truncated: a partial list could grant what the full one would not.
      value = JSON.stringify(identity.groups).length <= MAX_FORWARDED_GROUPS_BYTES ? identity.groups.join(',') : undefined;
      break;
    case 'amr':
      value = identity.amr.join(',');
      break;
    case 'acr':
      value = identity.acr;
      break;
  }
  return value === undefined ? undefined : value.replace(/[^\x20-\x7e]|%/gu, (char) => encodeURIComponent(char));
}

/** Keeps the app's own cookies, byte for byte, and drops Gatehouse's. */
export function withoutGatehouseCookies(header: string, sessionCookieBase: string): string {
  return header
    .split(';')
    .map((pair) => pair.trim())
    .filter((pair) => {
      if (!pair) return false;
      // A cookie's name is everything before its first "=" (RFC 6265 5.2), trimmed.
      const equals = pair.indexOf('=');
      return !isGatehouseCookie((equals < 0 ? pair : pair.slice(0, equals)).trim(), sessionCookieBase);
    })
    .join('; ');
}

/** Drops any Set-Cookie from the backend that would overwrite or clear one of Gatehouse's cookies. */
export function filterBackendSetCookies(proxyRes: IncomingMessage, sessionCookieBase: string): void {
  const lines = proxyRes.headers['set-cookie'];
  if (!lines) return;
  const kept = lines.filter((line) => {
    const name = line.slice(0, Math.max(0, line.indexOf('='))).trim();
    return !isGatehouseCookie(name, sessionCookieBase);
  });
  if (kept.length === lines.length) return;
  if (kept.length > 0) proxyRes.headers['set-cookie'] = kept;
  else delete proxyRes.headers['set-cookie'];
}

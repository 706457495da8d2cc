import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { AppConfig } from '../config/parse.ts';
import { externalUrlOf } from '../config/external-url.ts';
import { GatehouseError } from '../errors/index.ts';
import { MAX_FORWARDED_GROUPS_BYTES, MAX_REMEMBERED_HEADER_NAMES } from '../limits.ts';
import type { Identity, RequestContext } from '../request/context.ts';
import { ASSERTION_HEADER } from './identity-assertion.ts';
import { withoutGatehouseCookies } from './gatehouse-cookies.ts';
import { FORWARDING_HEADERS, headerNameSet, WELL_KNOWN_IDENTITY_HEADERS, type HeaderNameSet } from './identity-header-names.ts';

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1) and their relatives: they describe the
 * client's connection to Gatehouse, not the request. `Expect` is answered by
 * Gatehouse's own server; `Transfer-Encoding` is put back below because it
 * frames the body that is forwarded.
 */
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
  'expect',
  'http2-settings',
]);

/** Methods whose requests carry no body; one that does is refused (see `bodyless` below). */
const BODYLESS_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'TRACE']);

/** Built once per gateway from the configuration: what the forwarding step removes and what it owns. */
export interface ForwardingRules {
  readonly sessionCookieBase: string;
  /** Request headers never forwarded as the client sent them. */
  isRemoved(lowerCaseName: string): boolean;
  /** Headers Gatehouse sets itself, which a client's `Connection` header may not name. */
  isOwned(lowerCaseName: string): boolean;
}

export interface ForwardingRulesOptions {
  readonly apps: readonly Pick<AppConfig, 'identityHeaders'>[];
  readonly sessionCookieBase: string;
  readonly stripRequestHeaders?: readonly string[];
  readonly passRequestHeaders?: readonly string[];
}

export function createForwardingRules(options: ForwardingRulesOptions): ForwardingRules {
  // Every app's identity headers, on every app: a pass-through app in front of the same backend must not carry them either.
  const configured = options.apps.flatMap((app) => Object.keys(app.identityHeaders));
  const forwarding = headerNameSet(FORWARDING_HEADERS);
  const identity = headerNameSet(configured);
  const stripped = headerNameSet(options.stripRequestHeaders ?? []);
  const wellKnown = headerNameSet(WELL_KNOWN_IDENTITY_HEADERS);
  const passed: HeaderNameSet = headerNameSet(options.passRequestHeaders ?? []);
  const owned = headerNameSet([...FORWARDING_HEADERS, ...configured, ASSERTION_HEADER, 'cookie', 'host']);
  const decide = (name: string): boolean => forwarding.has(name) || identity.has(name) || stripped.has(name) || (wellKnown.has(name) && !passed.has(name));
  // Clients send the same few dozen names on every request: remember the answers, within a bound.
  const decided = new Map<string, boolean>();
  return {
    sessionCookieBase: options.sessionCookieBase,
    isRemoved(name) {
      let removed = decided.get(name);
      if (removed === undefined) {
        removed = decide(name);
        if (decided.size < MAX_REMEMBERED_HEADER_NAMES) decided.set(name, removed);
      }
      return removed;
    },
    isOwned: (name) => owned.has(name),
  };
}

export type UpstreamKind = 'http' | 'upgrade';

/**
 * Decides every header the backend receives, from the request as Gatehouse
 * received it: the client's headers minus everything it must not choose, then
 * Gatehouse's own. It runs in Gatehouse's forwarding step for plain requests
 * and WebSocket upgrades alike, and Gatehouse's forwarders send exactly this,
 * so no path of a library (`Expect: 100-continue`, upgrades) can skip it.
 *
 * Returns a refusal for requests that cannot be forwarded safely.
 */
export function upstreamRequestHeaders(
  req: IncomingMessage,
  app: AppConfig,
  context: RequestContext,
  rules: ForwardingRules,
  kind: UpstreamKind,
): OutgoingHttpHeaders | GatehouseError {
  const incoming = req.headers;
  const named = connectionTokens(incoming);
  for (const token of named) {
    // A header the client marks hop-by-hop would be deleted by any intermediary between us and the app.
    if (rules.isOwned(token)) return new GatehouseError('ERR_BAD_REQUEST', 'connection_names_gatehouse_header');
  }
  if (kind === 'http' && BODYLESS_METHODS.has(req.method ?? '') && carriesBody(incoming)) {
    // A backend that ignores a GET body would read it as the next request on a reused connection.
    return new GatehouseError('ERR_BAD_REQUEST', 'body_not_allowed_for_method');
  }

  const out: OutgoingHttpHeaders = {};
  for (const name of Object.keys(incoming)) {
    const value = incoming[name];
    if (value === undefined) continue;
    // CGI, WSGI and PHP read X_Remote_User and X-Remote-User as the same variable.
    if (name.includes('_')) continue;
    if (HOP_BY_HOP.has(name) || named.has(name) || rules.isRemoved(name)) continue;
    // An app that takes access tokens gets the identity headers and assertion instead of the token, unless it asks.
    if (name === 'authorization' && app.bearer !== undefined && !app.bearer.forwardAuthorization) continue;
    if (name === 'cookie') {
      // The encrypted session cookie is never sent on to the app.
      const kept = withoutGatehouseCookies(String(value), rules.sessionCookieBase);
      if (kept) out.cookie = kept;
      continue;
    }
    out[name] = value;
  }
  const transferEncoding = incoming['transfer-encoding'];
  if (kind === 'http' && transferEncoding !== undefined) out['transfer-encoding'] = transferEncoding;

  const external = externalUrlOf(app);
  out['x-forwarded-for'] = context.clientIp;
  out['x-forwarded-proto'] = external.scheme;
  out['x-forwarded-host'] = external.host;
  out['x-request-id'] = context.requestId;
  const identity = context.identity;
  if (identity) {
    for (const [header, claim] of Object.entries(app.identityHeaders)) {
      const value = identityValue(identity, claim);
      if (value !== undefined) out[header.toLowerCase()] = value;
    }
  }
  if (context.assertion) out[ASSERTION_HEADER.toLowerCase()] = context.assertion;
  if (kind === 'upgrade') {
    out.connection = 'Upgrade';
    out.upgrade = 'websocket';
  }
  return out;
}

/** What nearly every client sends, as sets made once: no set to build per request for them. */
const COMMON_TOKENS: ReadonlyMap<string | undefined, ReadonlySet<string>> = new Map([
  [undefined, new Set()],
  ['keep-alive', new Set(['keep-alive'])],
  ['close', new Set(['close'])],
]);

function connectionTokens(headers: IncomingHttpHeaders): ReadonlySet<string> {
  const connection = headers.connection;
  const proxyConnection = headers['proxy-connection'];
  const common = proxyConnection === undefined ? COMMON_TOKENS.get(connection) : undefined;
  if (common) return common;
  const tokens = new Set<string>();
  for (const value of [connection, proxyConnection]) {
    if (typeof value !== 'string') continue;
    for (const token of value.split(',')) {
      const name = token.trim().toLowerCase();
      if (name) tokens.add(name);
    }
  }
  return tokens;
}

function carriesBody(headers: IncomingHttpHeaders): boolean {
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && length !== '0';
}

/**
 * Header values carry printable ASCII only; anything else, `%` itself, and in
 * lists the `,` that separates items, is percent-encoded, so a value can
 * neither break the header nor split into two list items.
 */
function identityValue(identity: Identity, claim: string): string | undefined {
  switch (claim) {
    case 'sub':
      return encodeValue(identity.sub);
    case 'email':
      return identity.email === undefined ? undefined : encodeValue(identity.email);
    case 'name':
      return identity.name === undefined ? undefined : encodeValue(identity.name);
    case 'groups':
      // Left out, never truncated: a partial list could grant what the full one would not.
      return JSON.stringify(identity.groups).length <= MAX_FORWARDED_GROUPS_BYTES ? encodeList(identity.groups) : undefined;
    case 'amr':
      return encodeList(identity.amr);
    case 'acr':
      return identity.acr === undefined ? undefined : encodeValue(identity.acr);
    case 'kind':
      return identity.kind ?? 'user';
    default:
      return undefined;
  }
}

function encodeValue(value: string): string {
  return value.replace(/[^\x20-\x7e]|%/gu, (char) => encodeURIComponent(char));
}

function encodeList(items: readonly string[]): string {
  return items.map((item) => encodeValue(item).replaceAll(',', '%2C')).join(',');
}

import { isIP } from 'node:net';
import type { LookupFunction } from 'node:net';
import { Agent, fetch as undiciFetch } from 'undici';
import type { RequestInit as UndiciRequestInit } from 'undici';
import { CookieJar, getPublicSuffix } from 'tough-cookie';

export interface BrowserClientOptions {
  /** Trust anchors (PEM). When given they replace the system roots. */
  ca?: string | string[];
  /** Every hostname resolves to this IP address. Default '127.0.0.1'. */
  resolveTo?: string;
  userAgent?: string;
  /** Sent with every request, e.g. an X-Forwarded-For as a trusted proxy would add it. */
  extraHeaders?: Record<string, string>;
}

export interface BrowserResponse {
  status: number;
  headers: Headers;
  /** The URL this response answered. */
  url: string;
  text(): Promise<string>;
  json(): Promise<unknown>;
  setCookies: string[];
}

export interface BrowserRequestInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string | URLSearchParams;
  /** Send the headers of a top-level browser navigation (Accept: text/html, Sec-Fetch-Mode: navigate, …). */
  navigate?: boolean;
  /**
   * URL of the page that makes the request. Decides Sec-Fetch-Site and which
   * SameSite cookies go along; absent means the user typed the address.
   */
  initiator?: string;
}

export interface NavigateOptions {
  /** Default 20. Auto-submitted form_post pages count as redirects. */
  maxRedirects?: number;
  /**
   * Checked before following each redirect (or auto-submitted form): when it
   * returns true the navigation stops without requesting that URL, which is
   * appended to `chain`, and the redirect response is returned.
   */
  stopAt?: (url: URL) => boolean;
  /** Submit pages that a script would submit on load (OAuth form_post). Default true. */
  autoSubmit?: boolean;
  /** See {@link BrowserRequestInit.initiator}. */
  initiator?: string;
}

export interface NavigationResult {
  response: BrowserResponse;
  /** Every URL requested, in order (plus the URL `stopAt` stopped at). */
  chain: string[];
}

export interface FormControl {
  name: string;
  value: string;
  type: string;
}

export interface ParsedForm {
  id: string | undefined;
  /** Absolute URL the form submits to. */
  action: string;
  /** The action attribute as written (decoded), '' when absent. */
  rawAction: string;
  method: 'GET' | 'POST';
  enctype: string;
  /** Successful controls in document order: what a browser submits without a click. */
  fields: FormControl[];
  /** Names of password inputs, whether filled or not. */
  passwordFields: string[];
}

export class RedirectLimitError extends Error {
  readonly chain: string[];

  constructor(maxRedirects: number, chain: string[]) {
    super(`navigation exceeded ${maxRedirects} redirects (likely a redirect loop):\n  ${chain.join('\n  -> ')}`);
    this.name = 'RedirectLimitError';
    this.chain = chain;
  }
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const DEFAULT_USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) GatehouseTestBrowser/1.0';
const NAVIGATION_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

type SameSiteContext = 'strict' | 'lax' | 'none';

// ---------------------------------------------------------------------------
// HTML form parsing: enough for server-rendered pages, not a general parser.

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: '\u00a0',
};

export function decodeHtmlEntities(value: string): string {
  return value.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (match, entity: string) => {
    if (entity.startsWith('#x') || entity.startsWith('#X')) return String.fromCodePoint(Number.parseInt(entity.slice(2), 16));
    if (entity.startsWith('#')) return String.fromCodePoint(Number.parseInt(entity.slice(1), 10));
    return NAMED_ENTITIES[entity.toLowerCase()] ?? match;
  });
}

function parseAttributes(source: string): Map<string, string> {
  const attributes = new Map<string, string>();
  const pattern = /([^\s"'<>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  for (const match of source.matchAll(pattern)) {
    const name = (match[1] ?? '').toLowerCase();
    if (!attributes.has(name)) attributes.set(name, decodeHtmlEntities(match[2] ?? match[3] ?? match[4] ?? ''));
  }
  return attributes;
}

interface RawControl {
  owner: number | string | undefined; // enclosing form index, or the id named by a form= attribute
  name: string;
  value: string;
  type: string;
  include: boolean;
}

const NON_SUBMITTED_INPUT_TYPES = new Set(['submit', 'image', 'button', 'reset', 'file']);
const TAG_PATTERN = /<(\/?)([a-zA-Z][a-zA-Z0-9-]*)((?:[^>"']|"[^"]*"|'[^']*')*)>/g;

function stripNonMarkup(html: string): string {
  return html
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<script\b(?:[^>"']|"[^"]*"|'[^']*')*>[\s\S]*?<\/script\s*>/gi, '')
    .replace(/<style\b(?:[^>"']|"[^"]*"|'[^']*')*>[\s\S]*?<\/style\s*>/gi, '');
}

/** Parses every `<form>` of a page with the controls a browser would submit. */
export function parseForms(html: string, baseUrl: string): ParsedForm[] {
  const source = stripNonMarkup(html);
  const forms: Array<{ attributes: Map<string, string> }> = [];
  const controls: RawControl[] = [];
  let currentForm: number | undefined;
  let select: RawControl | undefined;
  let selectHasSelected = false;

  for (const match of source.matchAll(TAG_PATTERN)) {
    const closing = match[1] === '/';
    const tag = (match[2] ?? '').toLowerCase();
    const attributes = parseAttributes(match[3] ?? '');
    if (closing) {
      if (tag === 'form') currentForm = undefined;
      if (tag === 'select') select = undefined;
      continue;
    }
    const owner = attributes.get('form') ?? currentForm;
    const name = attributes.get('name');
    const disabled = attributes.has('disabled');
    switch (tag) {
      case 'form':
        forms.push({ attributes });
        currentForm = forms.length - 1;
        break;
      case 'input': {
        const type = (attributes.get('type') ?? 'text').toLowerCase();
        if (name === undefined || disabled || NON_SUBMITTED_INPUT_TYPES.has(type)) break;
        const checkable = type === 'checkbox' || type === 'radio';
        controls.push({
          owner,
          name,
          type,
          value: attributes.get('value') ?? (checkable ? 'on' : ''),
          include: !checkable || attributes.has('checked'),
        });
        break;
      }
      case 'textarea': {
        if (name === undefined || disabled) break;
        const start = (match.index ?? 0) + match[0].length;
        const end = source.toLowerCase().indexOf('</textarea', start);
        const text = source.slice(start, end === -1 ? undefined : end).replace(/^\r?\n/, '');
        controls.push({ owner, name, type: 'textarea', value: decodeHtmlEntities(text), include: true });
        break;
      }
      case 'select':
        if (name === undefined || disabled) break;
        select = { owner, name, type: 'select', value: '', include: false };
        selectHasSelected = false;
        controls.push(select);
        break;
      case 'option': {
        if (!select) break;
        let value = attributes.get('value');
        if (value === undefined) {
          const start = (match.index ?? 0) + match[0].length;
          const rest = source.slice(start);
          value = decodeHtmlEntities(rest.slice(0, rest.search(/<|$/)).trim());
        }
        // Without an explicit selection the first option is submitted.
        if (attributes.has('selected') && !selectHasSelected) {
          select.value = value;
          select.include = true;
          selectHasSelected = true;
        } else if (!select.include) {
          select.value = value;
          select.include = true;
        }
        break;
      }
      default:
        break;
    }
  }

  return forms.map(({ attributes }, index) => {
    const id = attributes.get('id');
    const rawAction = attributes.get('action') ?? '';
    const own = controls.filter((control) => control.owner === index || (id !== undefined && control.owner === id));
    return {
      id,
      rawAction,
      action: new URL(rawAction === '' ? baseUrl : rawAction, baseUrl).href,
      method: (attributes.get('method') ?? 'get').toUpperCase() === 'POST' ? 'POST' : 'GET',
      enctype: (attributes.get('enctype') ?? 'application/x-www-form-urlencoded').toLowerCase(),
      fields: own.filter((control) => control.include).map(({ name, value, type }) => ({ name, value, type })),
      passwordFields: own.filter((control) => control.type === 'password').map((control) => control.name),
    };
  });
}

// A form_post response: a page whose script submits its form on load.
function isAutoSubmitPage(html: string): boolean {
  const scripts = html.match(/<script\b[\s\S]*?<\/script\s*>/gi) ?? [];
  return /<form\b/i.test(html) && scripts.some((script) => /\.submit\(\s*\)/.test(script));
}

const LOGIN_ACTION = /\/interaction\/[^/?#]+\/login(?:[?#]|$)/;

// ---------------------------------------------------------------------------
// Site and origin rules for cookies and Fetch Metadata.

function siteOf(url: URL): string {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const registrable = isIP(host) === 0 ? getPublicSuffix(host, { allowSpecialUseDomain: true, ignoreError: true }) : undefined;
  return `${url.protocol}//${registrable ?? host}`;
}

interface NavigationSegment {
  initiator: URL | undefined;
  urls: URL[];
}

function isSameSite(segment: NavigationSegment): boolean {
  const sites = [...(segment.initiator ? [segment.initiator] : []), ...segment.urls].map(siteOf);
  return sites.every((site) => site === sites[0]);
}

function fetchSite(segment: NavigationSegment): string {
  const { initiator } = segment;
  if (!initiator) return 'none';
  if (segment.urls.every((url) => url.origin === initiator.origin)) return 'same-origin';
  return isSameSite(segment) ? 'same-site' : 'cross-site';
}

// strict-origin-when-cross-origin, the browsers' default referrer policy.
function refererFor(initiator: URL | undefined, target: URL): string | undefined {
  if (!initiator) return undefined;
  if (initiator.protocol === 'https:' && target.protocol !== 'https:') return undefined;
  if (initiator.origin === target.origin) {
    const referer = new URL(initiator.href);
    referer.hash = '';
    return referer.href;
  }
  return `${initiator.origin}/`;
}

function fixedLookup(address: string): LookupFunction {
  const family = isIP(address);
  if (family === 0) throw new TypeError(`resolveTo must be an IP address, got ${JSON.stringify(address)}`);
  return (_hostname, options, callback) => {
    if (options.all) callback(null, [{ address, family }]);
    else callback(null, address, family);
  };
}

function toHeaders(raw: Record<string, string | string[] | undefined>): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
  }
  return headers;
}

interface SendOptions {
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
  sendContext: SameSiteContext;
  storeContext: SameSiteContext;
}

interface PendingNavigation {
  url: URL;
  method: string;
  body: URLSearchParams | undefined;
}

/**
 * An HTTP client that keeps cookies and follows redirects like a browser
 * without JavaScript. Response bodies are read completely before a request
 * resolves, so nothing ties up a connection and close() is always prompt.
 */
export class BrowserClient {
  readonly jar: CookieJar;
  readonly #agent: Agent;
  readonly #userAgent: string;
  readonly #extraHeaders: Record<string, string>;

  constructor(opts: BrowserClientOptions = {}) {
    this.jar = new CookieJar(undefined, { prefixSecurity: 'strict', rejectPublicSuffixes: true, allowSpecialUseDomain: true });
    this.#userAgent = opts.userAgent ?? DEFAULT_USER_AGENT;
    this.#extraHeaders = { ...opts.extraHeaders };
    this.#agent = new Agent({
      connect: {
        ...(opts.ca === undefined ? {} : { ca: opts.ca }),
        lookup: fixedLookup(opts.resolveTo ?? '127.0.0.1'),
      },
    });
  }

  /** One request, no redirects followed; cookies sent from and stored into the jar. */
  async request(url: string, init: BrowserRequestInit = {}): Promise<BrowserResponse> {
    const target = new URL(url);
    const method = (init.method ?? 'GET').toUpperCase();
    const initiator = init.initiator === undefined ? undefined : new URL(init.initiator);
    const segment: NavigationSegment = { initiator, urls: [target] };
    const sameSite = isSameSite(segment);
    const headers: Record<string, string> = {};
    if (init.navigate) Object.assign(headers, this.#navigationHeaders(segment, target, method));
    let body: string | undefined;
    if (init.body instanceof URLSearchParams) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = init.body.toString();
    } else if (typeof init.body === 'string') {
      headers['content-type'] = 'text/plain;charset=UTF-8';
      body = init.body;
    }
    for (const [name, value] of Object.entries(init.headers ?? {})) headers[name.toLowerCase()] = value;
    const unsafe = method !== 'GET' && method !== 'HEAD';
    return this.#send(target, {
      method,
      headers,
      body,
      sendContext: sameSite ? 'strict' : init.navigate && !unsafe ? 'lax' : 'none',
      storeContext: sameSite ? 'strict' : init.navigate ? 'lax' : 'none',
    });
  }

  /** A top-level navigation (address bar, link), following redirects. */
  async navigate(url: string, opts: NavigateOptions = {}): Promise<NavigationResult> {
    return this.#navigate({ url: new URL(url), method: 'GET', body: undefined }, opts);
  }

  /**
   * Submits a form of `page` as a navigation from `baseUrl`: hidden and
   * prefilled controls are kept, `fields` override or add values.
   */
  async submitForm(
    page: BrowserResponse | string,
    baseUrl: string,
    fields: Record<string, string>,
    formSelector?: { action?: RegExp },
    opts: Omit<NavigateOptions, 'initiator'> = {},
  ): Promise<NavigationResult> {
    const html = typeof page === 'string' ? page : await page.text();
    const forms = parseForms(html, baseUrl);
    const actionPattern = formSelector?.action;
    const form = actionPattern ? forms.find((candidate) => actionPattern.test(candidate.rawAction) || actionPattern.test(candidate.action)) : forms[0];
    if (!form) {
      const actions = forms.map((candidate) => candidate.rawAction || '(no action)').join(', ') || 'none';
      throw new Error(`no form${actionPattern ? ` with an action matching ${String(actionPattern)}` : ''} on ${baseUrl} (forms: ${actions})`);
    }
    return this.#navigate(buildSubmission(form, fields), { ...opts, initiator: baseUrl });
  }

  /**
   * Opens `startUrl`; if that ends on the identity provider's login form,
   * signs in and follows the redirects back. A refused password ends on the
   * login form again (status 401).
   */
  async signIn(startUrl: string, login: string, password: string, opts: Omit<NavigateOptions, 'initiator'> = {}): Promise<NavigationResult> {
    const first = await this.navigate(startUrl, opts);
    const html = await first.response.text();
    const loginForm = parseForms(html, first.response.url).find((form) => LOGIN_ACTION.test(form.action) && form.passwordFields.length > 0);
    if (!loginForm) return first;
    const second = await this.#navigate(buildSubmission(loginForm, { login, password }), { ...opts, initiator: first.response.url });
    return { response: second.response, chain: [...first.chain, ...second.chain] };
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }

  #navigationHeaders(segment: NavigationSegment, target: URL, method: string): Record<string, string> {
    const headers: Record<string, string> = {
      accept: NAVIGATION_ACCEPT,
      'accept-language': 'en-US,en;q=0.9',
      'sec-fetch-dest': 'document',
      'sec-fetch-mode': 'navigate',
      'sec-fetch-site': fetchSite(segment),
      'sec-fetch-user': '?1',
      'upgrade-insecure-requests': '1',
    };
    const referer = refererFor(segment.initiator, target);
    if (referer !== undefined) headers['referer'] = referer;
    if (method !== 'GET' && method !== 'HEAD') {
      const { initiator } = segment;
      // A redirect that crossed origins turns a POST's Origin into "null".
      const sameOriginChain = initiator !== undefined && segment.urls.every((url) => url.origin === initiator.origin);
      headers['origin'] = initiator === undefined ? 'null' : sameOriginChain || segment.urls.length === 1 ? initiator.origin : 'null';
    }
    return headers;
  }

  async #navigate(first: PendingNavigation, opts: NavigateOptions): Promise<NavigationResult> {
    const maxRedirects = opts.maxRedirects ?? 20;
    const autoSubmit = opts.autoSubmit ?? true;
    const chain: string[] = [];
    let segment: NavigationSegment = { initiator: opts.initiator === undefined ? undefined : new URL(opts.initiator), urls: [] };
    let next = first;
    let followed = 0;

    for (;;) {
      chain.push(next.url.href);
      segment.urls.push(next.url);
      const sameSite = isSameSite(segment);
      const unsafe = next.method !== 'GET' && next.method !== 'HEAD';
      const headers = this.#navigationHeaders(segment, next.url, next.method);
      if (next.body) headers['content-type'] = 'application/x-www-form-urlencoded';
      const response = await this.#send(next.url, {
        method: next.method,
        headers,
        body: next.body?.toString(),
        // A cross-site top-level GET still carries SameSite=Lax cookies; a
        // cross-site POST carries only SameSite=None ones.
        sendContext: sameSite ? 'strict' : unsafe ? 'none' : 'lax',
        storeContext: sameSite ? 'strict' : 'lax',
      });

      let upcoming: PendingNavigation | undefined;
      let newSegment = false;
      const location = response.headers.get('location');
      if (REDIRECT_STATUSES.has(response.status) && location !== null) {
        const url = new URL(location, next.url);
        const keepsMethod = response.status === 307 || response.status === 308 || (response.status !== 303 && !unsafe) || next.method === 'HEAD';
        upcoming = keepsMethod ? { url, method: next.method, body: next.body } : { url, method: 'GET', body: undefined };
      } else if (autoSubmit && response.status === 200 && /text\/html/i.test(response.headers.get('content-type') ?? '')) {
        const html = await response.text();
        if (isAutoSubmitPage(html)) {
          const [form] = parseForms(html, response.url);
          if (form) {
            upcoming = buildSubmission(form, {});
            newSegment = true;
          }
        }
      }
      if (!upcoming) return { response, chain };

      if (upcoming.url.protocol !== 'https:' && upcoming.url.protocol !== 'http:') {
        // Custom-scheme redirects (native apps) leave the browser.
        chain.push(upcoming.url.href);
        return { response, chain };
      }
      if (opts.stopAt?.(upcoming.url)) {
        chain.push(upcoming.url.href);
        return { response, chain };
      }
      if (followed >= maxRedirects) {
        throw new RedirectLimitError(maxRedirects, [...chain, upcoming.url.href]);
      }
      followed += 1;
      if (newSegment) segment = { initiator: next.url, urls: [] };
      next = upcoming;
    }
  }

  async #send(url: URL, opts: SendOptions): Promise<BrowserResponse> {
    const headers: Record<string, string> = { 'user-agent': this.#userAgent, ...this.#extraHeaders, ...opts.headers };
    const jarCookies = await this.jar.getCookieString(url.href, { http: true, sameSiteContext: opts.sendContext });
    if (jarCookies !== '') {
      headers['cookie'] = headers['cookie'] === undefined ? jarCookies : `${headers['cookie']}; ${jarCookies}`;
    }
    const result = await this.#agent.request({
      origin: url.origin,
      path: `${url.pathname}${url.search}`,
      method: opts.method,
      headers,
      body: opts.body,
    });
    const bytes = Buffer.from(await result.body.arrayBuffer());
    const responseHeaders = toHeaders(result.headers);
    const setCookies = responseHeaders.getSetCookie();
    for (const cookie of setCookies) {
      await this.jar.setCookie(cookie, url.href, { http: true, ignoreError: true, sameSiteContext: opts.storeContext });
    }
    let text: string | undefined;
    const readText = (): string => (text ??= bytes.toString('utf8'));
    return {
      status: result.statusCode,
      headers: responseHeaders,
      url: url.href,
      setCookies,
      text: () => Promise.resolve(readText()),
      json: () => Promise.resolve(JSON.parse(readText()) as unknown),
    };
  }
}

function buildSubmission(form: ParsedForm, fields: Record<string, string>): PendingNavigation {
  if (form.method === 'POST' && form.enctype !== 'application/x-www-form-urlencoded') {
    throw new Error(`form ${form.action} uses enctype ${form.enctype}, which BrowserClient does not submit`);
  }
  const entries: Array<[string, string]> = form.fields.map(({ name, value }) => [name, value]);
  for (const [name, value] of Object.entries(fields)) {
    const index = entries.findIndex(([existing]) => existing === name);
    if (index === -1) entries.push([name, value]);
    else entries[index] = [name, value];
  }
  const params = new URLSearchParams(entries);
  if (form.method === 'GET') {
    const url = new URL(form.action);
    url.search = params.toString();
    url.hash = '';
    return { url, method: 'GET', body: undefined };
  }
  return { url: new URL(form.action), method: 'POST', body: params };
}

/**
 * A fetch that trusts the given CA, for libraries taking a custom fetch
 * (openid-client's `customFetch`, jose's remote JWKS).
 */
export function createCaFetch(opts: BrowserClientOptions): {
  fetch: (url: string | URL, init?: RequestInit) => Promise<Response>;
  close: () => Promise<void>;
} {
  const dispatcher = new Agent({
    connect: {
      ...(opts.ca === undefined ? {} : { ca: opts.ca }),
      lookup: fixedLookup(opts.resolveTo ?? '127.0.0.1'),
    },
  });
  return {
    // The global fetch is a different undici copy; only the npm one's fetch is
    // guaranteed to accept this Agent as `dispatcher`.
    // undici-types (behind the global RequestInit) and undici declare FormData
    // separately; the objects are the same at runtime.
    fetch: (url, init) => undiciFetch(url, { ...(init as UndiciRequestInit | undefined), dispatcher }),
    close: () => dispatcher.close(),
  };
}

import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createCaFetch } from '../../../dev/lib/browser-client.ts';
import { createDevCa, type DevCa } from '../../../dev/lib/dev-ca.ts';
import type { DevUser } from '../../../dev/lib/identity-provider/index.ts';
import { signIn, startStack, type Stack } from '../../support/stack.ts';

type GraphMode = 'pages' | 'fail' | 'slow' | 'bad-json' | 'endless';

/**
 * A stand-in for Microsoft Graph on loopback: `GET /v1.0/me/transitiveMemberOf` answers the groups of the user whose
 * access token it was given (read back at the identity provider's userinfo endpoint, so a made-up token gets 401),
 * one group a page, chained with `@odata.nextLink`.
 */
class FakeGraph {
  mode: GraphMode = 'pages';
  /** The users (sub) each request's access token belonged to. */
  readonly callers: string[] = [];
  readonly #server: Server | HttpsServer;
  readonly #groups: (sub: string) => readonly string[];
  readonly #userinfo: (token: string) => Promise<string | undefined>;
  readonly #timers = new Set<NodeJS.Timeout>();
  url = '';

  /** With `tls`, served over https with a certificate of a throwaway CA until `trust` swaps in one the gateway may trust. */
  constructor(groups: (sub: string) => readonly string[], userinfo: (token: string) => Promise<string | undefined>, tls = false) {
    this.#groups = groups;
    this.#userinfo = userinfo;
    const handler = (req: IncomingMessage, res: ServerResponse): void => void this.#answer(req, res);
    if (tls) {
      const { certPem: cert, keyPem: key } = createDevCa({ commonName: 'not trusted' }).issueServerCertificate(['127.0.0.1']);
      this.#server = createHttpsServer({ cert, key }, handler);
    } else {
      this.#server = createServer(handler);
    }
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const scheme = 'setSecureContext' in this.#server ? 'https' : 'http';
    this.url = `${scheme}://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** Serves a certificate of `ca` from now on. */
  trust(ca: DevCa): void {
    const { certPem: cert, keyPem: key } = ca.issueServerCertificate(['127.0.0.1']);
    if ('setSecureContext' in this.#server) this.#server.setSecureContext({ cert, key });
  }

  async close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const sub = token === undefined ? undefined : await this.#userinfo(token);
    if (url.pathname !== '/v1.0/me/transitiveMemberOf' || sub === undefined) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":{"code":"InvalidAuthenticationToken"}}');
      return;
    }
    this.callers.push(sub);
    if (this.mode === 'fail') return void res.writeHead(503).end();
    if (this.mode === 'bad-json') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"value": [');
    if (this.mode === 'slow') {
      // Longer than the endpoint's timeout; the gateway must not wait for it.
      this.#timers.add(setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"value":[]}'), 5_000));
      return;
    }
    const groups = this.#groups(sub);
    const index = Number(url.searchParams.get('$skiptoken') ?? '0');
    const nextIndex = this.mode === 'endless' ? index + 1 : index + 1 < groups.length ? index + 1 : undefined;
    const next = nextIndex === undefined ? {} : { '@odata.nextLink': `${this.url}/v1.0/me/transitiveMemberOf?$select=id&$skiptoken=${nextIndex}` };
    const value = groups.slice(index, index + 1).map((id) => ({ '@odata.type': '#microsoft.graph.group', id }));
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ '@odata.context': 'https://graph.test/$metadata', value, ...next }));
  }
}

const GRAPH_GROUPS: Record<string, string[]> = {
  // Past the token's limit: one more group than the ID token could have listed, found only through Graph.
  'user-alice': ['admins', 'staff', 'graph-only-group'],
};

/**
 * Group overage with identityProvider.groupsEndpoint: the sign-in asks a Graph-shaped endpoint for the user's
 * groups with the access token of the code exchange, page by page; any failure still fails closed.
 */
describe('identity provider: groups endpoint on group overage (real flow, Graph-shaped endpoint)', function () {
  this.timeout(60_000);
  let stack: Stack;
  let graph: FakeGraph;
  let idpFetch: ReturnType<typeof createCaFetch>;

  before(async function () {
    let userinfoEndpoint: string | undefined;
    const userinfo = async (token: string): Promise<string | undefined> => {
      userinfoEndpoint ??= ((await (await idpFetch.fetch(`${stack.idp.issuer}/.well-known/openid-configuration`)).json()) as { userinfo_endpoint: string })
        .userinfo_endpoint;
      const response = await idpFetch.fetch(userinfoEndpoint, { headers: { authorization: `Bearer ${token}` } });
      if (!response.ok) return undefined;
      return ((await response.json()) as { sub?: string }).sub;
    };
    // Over https with a certificate only the identity provider's CA bundle (identityProvider.ca) vouches for: the
    // gateway reaches it only through the provider's HTTP client, as it must.
    graph = new FakeGraph((sub) => GRAPH_GROUPS[sub] ?? [], userinfo, true);
    await graph.listen();
    stack = await startStack({
      idpClaims: {
        groupsClaim: (user: DevUser) =>
          user.login === 'alice'
            ? {
                _claim_names: { groups: 'src1' },
                _claim_sources: { src1: { endpoint: `https://graph.windows.net/tenant/users/${user.sub}/getMemberObjects` } },
              }
            : { groups: [...user.groups] },
        extraClaims: { names: ['_claim_names', '_claim_sources'], values: () => ({}) },
      },
      configure: (config) => ({
        ...config,
        identityProvider: {
          ...config.identityProvider,
          groupsEndpoint: { url: `${graph.url}/v1.0/me/transitiveMemberOf?$select=id`, timeoutSeconds: 1 },
        },
        apps: (config.apps ?? []).map((app) =>
          app.id === 'wiki'
            ? {
                ...app,
                identityHeaders: { 'X-User': 'sub', 'X-User-Groups': 'groups' } as const,
                policies: [{ name: 'staff only', conditions: { groups: { exclude: ['staff'] } }, grant: { block: true } }],
              }
            : app,
        ),
      }),
    });
    idpFetch = createCaFetch({ ca: [stack.idp.caPem] });
    graph.trust(stack.ca);
  });
  after(async function () {
    await stack?.close();
    await graph?.close();
    await idpFetch?.close();
  });
  beforeEach(function () {
    graph.callers.length = 0;
    stack.backend.requests.length = 0;
  });

  it('signs in with the groups the endpoint lists, following every page, asked with the user access token', async function () {
    graph.mode = 'pages';
    const { response } = await signIn(stack, stack.browser(), 'alice');
    assert.equal(response.status, 200, 'staff (from the endpoint) passes the "staff only" policy');
    assert.deepEqual(graph.callers, ['user-alice', 'user-alice', 'user-alice'], 'three pages, each with alice’s own access token');
    const seen = stack.backend.requests.at(-1);
    assert.equal(seen?.headers['x-user'], 'user-alice');
    const groups = String(seen?.headers['x-user-groups']);
    for (const group of ['admins', 'staff', 'graph-only-group']) assert.ok(groups.includes(group), `${group} in ${groups}`);
    assert.equal(stack.audit.ofType('signin.succeeded').at(-1)?.user?.sub, 'user-alice');
  });

  it('does not ask the endpoint for a user whose token lists the groups', async function () {
    const { response } = await signIn(stack, stack.browser(), 'bob');
    assert.equal(response.status, 200);
    assert.deepEqual(graph.callers, []);
  });

  const failures: [GraphMode, string][] = [
    ['fail', 'groups_endpoint_failed:status_503'],
    ['slow', 'groups_endpoint_failed:timeout'],
    ['bad-json', 'groups_endpoint_failed:bad_json'],
    ['endless', 'groups_endpoint_failed:too_many_pages'],
  ];
  for (const [mode, reason] of failures) {
    it(`fails closed when the endpoint ${mode === 'fail' ? 'answers 503' : mode === 'slow' ? 'is too slow' : mode === 'bad-json' ? 'answers broken JSON' : 'pages forever'} (audit ${reason})`, async function () {
      graph.mode = mode;
      const started = Date.now();
      const { response } = await signIn(stack, stack.browser(), 'alice');
      assert.equal(response.status, 403);
      assert.match(await response.text(), /ERR_GROUPS_OVERAGE/);
      const failed = stack.audit.ofType('signin.failed').at(-1);
      assert.equal(failed?.code, 'ERR_GROUPS_OVERAGE');
      assert.equal(failed?.reason, reason);
      assert.equal(stack.backend.requests.length, 0, 'the backend saw nothing');
      if (mode === 'slow') assert.ok(Date.now() - started < 4_500, 'the sign-in gave up after the endpoint timeout');
    });
  }
});

describe('identity provider: groups endpoint at each session refresh (real flow, Graph-shaped endpoint)', function () {
  this.timeout(90_000);
  const ID_TOKEN_TTL_SECONDS = 4;
  const PAST_EXPIRY_MS = (ID_TOKEN_TTL_SECONDS + 1.5) * 1000;
  let stack: Stack;
  let graph: FakeGraph;
  let idpFetch: ReturnType<typeof createCaFetch>;

  before(async function () {
    const userinfo = async (token: string): Promise<string | undefined> => {
      const response = await idpFetch.fetch(`${stack.idp.issuer}/me`, { headers: { authorization: `Bearer ${token}` } });
      return response.ok ? ((await response.json()) as { sub?: string }).sub : undefined;
    };
    graph = new FakeGraph((sub) => GRAPH_GROUPS[sub] ?? [], userinfo);
    await graph.listen();
    stack = await startStack({
      idTokenTtlSeconds: ID_TOKEN_TTL_SECONDS,
      refreshTokens: true,
      idpClaims: {
        groupsClaim: (user: DevUser) =>
          user.login === 'alice' ? { _claim_names: { groups: 'src1' }, _claim_sources: { src1: { endpoint: 'https://graph.windows.net/x' } } } : {},
        extraClaims: { names: ['_claim_names', '_claim_sources'], values: () => ({}) },
      },
      configure: (config) => ({
        ...config,
        session: { ...config.session, refresh: true },
        identityProvider: { ...config.identityProvider, groupsEndpoint: { url: `${graph.url}/v1.0/me/transitiveMemberOf?$select=id`, timeoutSeconds: 1 } },
        apps: (config.apps ?? []).map((app) =>
          app.id === 'wiki' ? { ...app, policies: [{ name: 'staff only', conditions: { groups: { exclude: ['staff'] } }, grant: { block: true } }] } : app,
        ),
      }),
    });
    idpFetch = createCaFetch({ ca: [stack.idp.caPem] });
  });
  after(async function () {
    await stack?.close();
    await graph?.close();
    await idpFetch?.close();
  });

  const xhr = async (browser: ReturnType<Stack['browser']>): Promise<number> => {
    const response = await browser.request(`${stack.urls.wiki}/api/data`, { headers: { accept: 'application/json', 'x-requested-with': 'XMLHttpRequest' } });
    await response.text();
    return response.status;
  };

  it('asks the endpoint again with the refreshed access token: a group removed there is denied by policy', async function () {
    graph.mode = 'pages';
    const browser = stack.browser();
    assert.equal((await signIn(stack, browser, 'alice')).response.status, 200);
    assert.equal(await xhr(browser), 200);
    const groups = GRAPH_GROUPS['user-alice']!;
    GRAPH_GROUPS['user-alice'] = groups.filter((group) => group !== 'staff');
    try {
      graph.callers.length = 0;
      await sleep(PAST_EXPIRY_MS);
      assert.equal(await xhr(browser), 403, 'the refreshed groups come from the endpoint');
      assert.ok(graph.callers.includes('user-alice'), 'the endpoint was asked at the refresh');
    } finally {
      GRAPH_GROUPS['user-alice'] = groups;
    }
  });

  it('ends the session when the endpoint fails at a refresh, audited with the reason', async function () {
    graph.mode = 'pages';
    const browser = stack.browser();
    assert.equal((await signIn(stack, browser, 'alice')).response.status, 200);
    graph.mode = 'fail';
    await sleep(PAST_EXPIRY_MS);
    assert.equal(await xhr(browser), 401);
    const ended = stack.audit.ofType('session.refresh_failed').at(-1);
    assert.equal(ended?.reason, 'groups_endpoint_failed:status_503');
    assert.equal(ended?.user?.sub, 'user-alice');
  });
});

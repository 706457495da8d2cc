import assert from 'node:assert/strict';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import fc from 'fast-check';
import { checkConnect } from '../../../src/connector/stream-admission.ts';
import type { ResolvedApp } from '../../../src/connector/origin.ts';
import { parseGatewayConfig } from '../../../src/config/parse.ts';
import { TunnelError } from '../../../src/errors/tunnel-error.ts';
import { GatehouseError } from '../../../src/errors/index.ts';
import { createResponseHeadFilter } from '../../../src/forwarding/downstream-response.ts';
import { isGatehouseCookieName, setsGatehouseCookie } from '../../../src/forwarding/gatehouse-cookies.ts';
import { createForwardingRules, upstreamRequestHeaders } from '../../../src/forwarding/upstream-request.ts';
import { REFUSAL_STATUS, appIdOfConnect, isAppId, isTunnelRefusal } from '../../../src/protocol/tunnel-wire.ts';
import type { RequestContext } from '../../../src/request/context.ts';
import { connectHeaders } from '../../../src/tunnel/connect-stream.ts';
import { refusalError } from '../../../src/tunnel/refusal-error.ts';
import { fuzzTimeout, runs } from '../../support/fuzz-runs.ts';

/**
 * Header blocks on both sides of a tunnel. A CONNECT stream's headers, whatever they hold, are either a well-formed
 * app the connector serves or a typed refusal; the service reads any answer as a typed error; and the HTTP heads
 * carried inside the stream lose every hop-by-hop header, every header the client's `Connection` names, and every
 * header a client could use to pass as someone, in both directions.
 */

const config = parseGatewayConfig({
  identityProvider: { issuer: 'https://login.example.com', clientId: 'gatehouse', clientSecret: 's3cret' },
  session: { secrets: [{ id: 1, secret: 'a-very-long-session-secret-of-at-least-32-chars' }] },
  apps: [
    {
      id: 'wiki',
      externalUrl: 'https://wiki.example.com',
      internalUrl: 'http://10.0.0.5:8080/base/',
      identityHeaders: { 'X-Remote-User': 'email', 'X-Remote-Groups': 'groups' },
    },
  ],
});
const APP = config.apps[0]!;
const COOKIE_BASE = config.session.cookieName;
const RULES = createForwardingRules({ apps: config.apps, sessionCookieBase: COOKIE_BASE });

const REQUEST_HOP_BY_HOP = [
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
];
const RESPONSE_HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'proxy-authenticate'];
const HOSTILE = [
  ...REQUEST_HOP_BY_HOP,
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-user',
  'forwarded',
  'x-real-ip',
  'x-request-id',
  'x-gatehouse-assertion',
  'x-remote-user',
  'x-remote-groups',
  'remote-user',
  'x-auth-request-email',
  'cf-access-authenticated-user-email',
  'x-user',
  'cookie',
  'host',
  'content-length',
  'authorization',
];
const IDENTITY = /^(?:x-forwarded-.*|forwarded|x-real-ip|x-client-ip|x-request-id|x-gatehouse-.*|remote-.*|x-remote-.*|x-auth-request-.*|cf-access-.*|x-user)$/;

const TOKEN = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,16}$/);
const NAME = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE) },
  { weight: 2, arbitrary: TOKEN },
  { weight: 1, arbitrary: fc.constantFrom('x-app', 'accept', 'x_remote_user') },
);
const VALUE = fc.oneof(
  fc.stringMatching(/^[\x20-\x7e]{0,24}$/),
  fc.constantFrom(
    'close',
    'keep-alive, x-app',
    'Upgrade',
    'x-forwarded-for',
    'te, trailer',
    'x-remote-user',
    'websocket',
    '100-continue',
    'chunked',
    '0',
    '12',
  ),
  fc.constantFrom('__Host-gatehouse=forged; app=1', 'GATEHOUSE=x', '__Secure-gh-tx-a=1; gh-loop=2', 'a=b; =__Host-gatehouse=v', 'pref=dark'),
);

/** A header block as node:http hands it on: lower-case names, repeated ones joined (Set-Cookie kept as a list). */
function headerBlock(pairs: readonly (readonly [string, string])[]): IncomingHttpHeaders {
  const out: Record<string, string | string[]> = {};
  for (const [rawName, value] of pairs) {
    const name = rawName.toLowerCase();
    const existing = out[name];
    if (name === 'set-cookie') out[name] = [...((existing as string[] | undefined) ?? []), value];
    else out[name] = existing === undefined ? value : `${String(existing)}${name === 'cookie' ? '; ' : ', '}${value}`;
  }
  return out;
}

const BLOCK = fc.array(fc.tuple(NAME, VALUE), { maxLength: 12 }).map(headerBlock);

function connectionNames(headers: IncomingHttpHeaders, names: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const name of names) {
    const value = headers[name];
    if (typeof value === 'string') for (const token of value.split(',')) if (token.trim()) out.add(token.trim().toLowerCase());
  }
  return out;
}

const CONTEXT: RequestContext = {
  requestId: 'req-1',
  clientIp: '203.0.113.9',
  userAgent: undefined,
  identity: { sub: 'user-alice', email: 'alice@example.com', groups: ['staff'], amr: [], authTime: 0, claims: {} } as unknown as RequestContext['identity'],
};

/** The only identity and forwarding headers a backend receives: Gatehouse's own. */
const OWN: Readonly<Record<string, string>> = {
  'x-forwarded-for': CONTEXT.clientIp,
  'x-forwarded-proto': 'https',
  'x-forwarded-host': 'wiki.example.com',
  'x-request-id': CONTEXT.requestId,
  'x-remote-user': 'alice@example.com',
  'x-remote-groups': 'staff',
};

describe('fuzz: tunnel and forwarding header blocks', function () {
  this.timeout(fuzzTimeout(30_000));

  it('a request head never carries a hop-by-hop header, a Connection-named one, or a client-chosen identity', () => {
    fc.assert(
      fc.property(BLOCK, fc.constantFrom('GET', 'POST', 'HEAD', 'PUT'), fc.constantFrom('http' as const, 'upgrade' as const), (headers, method, kind) => {
        const req = { headers, method } as unknown as IncomingMessage;
        const out = upstreamRequestHeaders(req, APP, CONTEXT, RULES, kind);
        if (out instanceof GatehouseError) {
          assert.equal(out.code, 'ERR_BAD_REQUEST');
          return;
        }
        const named = connectionNames(headers, ['connection', 'proxy-connection']);
        for (const [name, value] of Object.entries(out)) {
          assert.ok(!name.includes('_'), name);
          const ownValue = (kind === 'upgrade' && (name === 'connection' || name === 'upgrade')) || (kind === 'http' && name === 'transfer-encoding');
          if (!ownValue) assert.ok(!REQUEST_HOP_BY_HOP.includes(name), `${name} passed`);
          if (named.has(name)) assert.ok(ownValue || value !== headers[name], `${name} was named in Connection`);
          if (IDENTITY.test(name)) assert.equal(value, OWN[name], `client's ${name} passed`);
        }
        for (const pair of String(out.cookie ?? '').split(';')) {
          const name = pair.trim().split('=', 1)[0] ?? '';
          if (name) assert.ok(!isGatehouseCookieName(name, COOKIE_BASE), pair);
        }
        assert.equal(out['x-forwarded-for'], CONTEXT.clientIp);
        assert.equal(out['x-remote-user'], 'alice@example.com');
        if (kind === 'upgrade') assert.equal(out.connection, 'Upgrade');
      }),
      runs(1500),
    );
  });

  it('a response head never carries a hop-by-hop header, a Connection-named one, or a Gatehouse cookie', () => {
    const filter = createResponseHeadFilter(APP, COOKIE_BASE);
    const responseBlock = fc.array(fc.tuple(fc.oneof(NAME, fc.constant('set-cookie'), fc.constant('location')), VALUE), { maxLength: 12 }).map(headerBlock);
    fc.assert(
      fc.property(responseBlock, (headers) => {
        const out = filter(headers);
        const named = connectionNames(headers, ['connection']);
        for (const name of Object.keys(out)) {
          assert.ok(!RESPONSE_HOP_BY_HOP.includes(name), `${name} passed`);
          assert.ok(!named.has(name) || name === 'x-robots-tag', `${name} was named in Connection`);
        }
        for (const line of out['set-cookie'] ?? []) assert.ok(!setsGatehouseCookie(line, COOKIE_BASE), line);
      }),
      runs(1000),
    );
  });

  it("a CONNECT stream's headers name a served app or give a typed refusal, never throw", () => {
    const served = new Map<string, ResolvedApp>([['wiki', { internalUrl: 'http://127.0.0.1:9' }]]);
    const options = { resolveApp: (id: string) => served.get(id), connectOrigin: () => Promise.reject(new Error('not dialled')), originConnectTimeoutMs: 1 };
    const junk = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }));
    const authority = fc.oneof(
      junk,
      fc.constantFrom(
        'wiki.app.invalid:443',
        'WIKI.app.invalid:443',
        'wiki.app.invalid',
        'other.app.invalid:443',
        '10.0.0.5:8080',
        'wiki.app.invalid:443\u0000',
      ),
    );
    const app = fc.oneof(junk, fc.constantFrom('wiki', 'Wiki', 'other', '../wiki', 'wiki '));
    const headers = fc.record(
      {
        ':method': fc.oneof(junk, fc.constantFrom('CONNECT', 'GET', 'connect')),
        ':authority': authority,
        'gatehouse-app': app,
        'gatehouse-request-id': fc.oneof(junk, fc.constant('req-1')),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(headers, (input) => {
        const result = checkConnect(input as IncomingHttpHeaders, options);
        if ('refusal' in result) {
          assert.ok(isTunnelRefusal(result.refusal));
          return;
        }
        assert.equal(input[':method'], 'CONNECT');
        assert.ok(isAppId(result.appId) && served.has(result.appId));
        assert.equal(appIdOfConnect(input[':authority'], input['gatehouse-app']), result.appId);
      }),
      runs(1500),
    );
  });

  it('the CONNECT headers the service writes are read back as the same app and request id', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/),
        fc.option(fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/), { nil: undefined }),
        (appId, requestId) => {
          fc.pre(isAppId(appId));
          const served = { internalUrl: 'http://127.0.0.1:9' } as ResolvedApp;
          const result = checkConnect(connectHeaders(appId, requestId), {
            resolveApp: (id) => (id === appId ? served : undefined),
            connectOrigin: () => Promise.reject(new Error('not dialled')),
            originConnectTimeoutMs: 1,
          });
          assert.ok(!('refusal' in result));
          assert.equal(result.appId, appId);
          assert.equal(result.requestId, requestId);
        },
      ),
      runs(500),
    );
  });

  it('any connector answer to a CONNECT is read as a typed error that says nothing reached the app', () => {
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 999 }), fc.oneof(fc.constantFrom(...Object.keys(REFUSAL_STATUS)), fc.anything()), (status, refusal) => {
        const error = refusalError(status, refusal, 'connector-1');
        assert.ok(error instanceof TunnelError);
        assert.equal(error.beforeUpstream, true);
        if (isTunnelRefusal(refusal) && REFUSAL_STATUS[refusal] === status) assert.equal(error.reason, refusal);
        else assert.equal(error.code, 'ERR_TUNNEL_PROTOCOL');
      }),
      runs(500),
    );
  });
});

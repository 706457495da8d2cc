import assert from 'node:assert/strict';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import * as jose from 'jose';
import { WebSocket } from 'ws';
import * as oidc from 'openid-client';
import { createCaFetch } from '../../dev/lib/browser-client.ts';
import { approveDeviceLogin, CONNECTOR_RESOURCE } from '../../dev/lib/device-approval.ts';
import type { GatewayConfigInput } from '../../src/config/schema.ts';
import { toLoopback } from '../support/loopback.ts';
import { signIn, startStack, type Stack } from '../support/stack.ts';

const API = 'https://api.gatehouse.test';
const ROBOT = {
  client_id: 'report-robot',
  client_secret: 'report-robot-secret-0123456789',
  redirect_uris: [],
  grant_types: ['client_credentials'],
  response_types: [],
};
const CLI = { client_id: 'report-cli', redirect_uris: [], grant_types: ['urn:ietf:params:oauth:grant-type:device_code'], response_types: [] };
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

interface ErrorBody {
  readonly error: { readonly code: string; readonly signInUrl?: string };
}

function withBearerApps(config: GatewayConfigInput, unknownUrl: string): GatewayConfigInput {
  const apps = (config.apps ?? []).map((app) => {
    if (app.id === 'wiki') {
      return {
        ...app,
        // The CLI's client id as an audience too: an ID token for it gets past `aud`, and must still be refused.
        bearer: { audiences: [API, CLI.client_id], scopes: ['reports:read'] },
        identityHeaders: { 'X-User': 'sub', 'X-User-Kind': 'kind', 'X-User-Email': 'email' } as const,
        policies: [
          { name: 'people only on /admin/', conditions: { kinds: ['service' as const], paths: ['/admin/'] }, grant: { block: true } },
          { name: 'staff only', conditions: { kinds: ['user' as const], groups: { exclude: ['staff'] } }, grant: { block: true } },
        ],
      };
    }
    if (app.id === 'other') return { ...app, bearer: { audiences: [API], scopes: ['reports:write'] } };
    return app;
  });
  // A third app trusting only another issuer: a real token from the test provider is from the wrong one there.
  const strict = {
    id: 'strict',
    externalUrl: unknownUrl,
    internalUrl: apps[0]!.internalUrl,
    bearer: { audiences: [API], issuers: ['https://sts.elsewhere.test'] },
  };
  return { ...config, apps: [...apps, strict] };
}

describe('bearer tokens: API clients on a published app', function () {
  this.timeout(90_000);
  let stack: Stack;
  let caFetch: ReturnType<typeof createCaFetch>;
  let robotToken: string;
  let userToken: string;
  let idToken: string;

  before(async () => {
    stack = await startStack({
      idpClients: [ROBOT, CLI],
      resourceServers: { [API]: { scope: 'reports:read reports:write', accessTokenTtlSeconds: 600 } },
      configure: (config) => withBearerApps(config, `https://unknown.gatehouse.test:${new URL(config.apps?.[0]?.externalUrl ?? '').port}`),
    });
    caFetch = createCaFetch({ ca: [stack.ca.certPem, stack.idp.caPem] });
    const idpFetch: oidc.CustomFetch = (url, init) => caFetch.fetch(url, init);

    // The robot: client credentials, no user.
    const robot = await oidc.discovery(new URL(stack.idp.issuer), ROBOT.client_id, ROBOT.client_secret, undefined, { [oidc.customFetch]: idpFetch });
    robotToken = (await oidc.clientCredentialsGrant(robot, { scope: 'reports:read', resource: API })).access_token;

    // A person's CLI: the device flow, approved as bob.
    const cli = await oidc.discovery(new URL(stack.idp.issuer), CLI.client_id, undefined, oidc.None(), { [oidc.customFetch]: idpFetch });
    const device = await oidc.initiateDeviceAuthorization(cli, { scope: 'openid reports:read', resource: API });
    await approveDeviceLogin(device.verification_uri, device.user_code, 'bob', 'bob-password', stack.idp.caPem);
    const tokens = await oidc.pollDeviceAuthorizationGrant(cli, device);
    userToken = tokens.access_token;
    assert.ok(tokens.id_token, 'the device flow with openid gives an ID token too');
    idToken = tokens.id_token;
    assert.equal(DEVICE_GRANT, CLI.grant_types[0]);
  });
  after(async () => {
    await caFetch?.close();
    await stack?.close();
  });
  beforeEach(() => {
    stack.audit.clear();
    stack.clock.reset();
  });

  const call = async (url: string, token: string | undefined, headers: Record<string, string> = {}) => {
    const response = await caFetch.fetch(url, {
      headers: { accept: 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...headers },
      redirect: 'manual',
    });
    const text = await response.text();
    return { status: response.status, challenge: response.headers.get('www-authenticate'), location: response.headers.get('location'), text };
  };

  const lastUpstream = () => stack.backend.requests.at(-1)?.headers ?? {};

  async function refusedWith(url: string, token: string, status: number, reason: string, code = 'ERR_BEARER_TOKEN_INVALID'): Promise<void> {
    const before = stack.backend.requests.length;
    const answer = await call(url, token);
    assert.equal(answer.status, status, answer.text);
    assert.equal((JSON.parse(answer.text) as ErrorBody).error.code, code);
    if (status === 401) assert.match(answer.challenge ?? '', /^Bearer realm="[a-z]+", error="invalid_token"$/);
    assert.equal(stack.backend.requests.length, before, 'nothing forwarded');
    const event = stack.audit.ofType('bearer.rejected').at(-1);
    assert.equal(event?.reason, reason);
    assert.equal(event?.code, code);
    assert.ok(!JSON.stringify(stack.audit.events).includes(token.slice(-24)), 'the token is never logged');
  }

  it('lets a client-credentials token through as a service: the backend sees its identity headers and assertion, not the token', async () => {
    const answer = await call(`${stack.urls.wiki}/reports`, robotToken);
    assert.equal(answer.status, 200, answer.text);
    const headers = lastUpstream();
    assert.equal(headers['x-user'], ROBOT.client_id);
    assert.equal(headers['x-user-kind'], 'service');
    assert.equal(headers['x-user-email'], undefined);
    assert.equal(headers['authorization'], undefined, 'the Authorization header is removed upstream');
    const assertion = jose.decodeJwt(String(headers['x-gatehouse-assertion']));
    assert.equal(assertion.sub, ROBOT.client_id);
    assert.equal(assertion['kind'], 'service');
  });

  it('lets a user access token and a browser session through under the same policies; the policy against services refuses the robot', async () => {
    assert.equal((await call(`${stack.urls.wiki}/admin/panel`, userToken)).status, 200);
    assert.equal(lastUpstream()['x-user'], 'user-bob');
    assert.equal(lastUpstream()['x-user-kind'], 'user');

    const browser = stack.browser();
    const { response } = await signIn(stack, browser, 'bob', '/admin/panel');
    assert.equal(response.status, 200);
    assert.equal(lastUpstream()['x-user'], 'user-bob');

    const denied = await call(`${stack.urls.wiki}/admin/panel`, robotToken);
    assert.equal(denied.status, 403);
    assert.equal((JSON.parse(denied.text) as ErrorBody).error.code, 'ERR_POLICY_DENIED');
    const event = stack.audit.ofType('access.denied').at(-1);
    assert.match(event?.reason ?? '', /people only on \/admin\/:grant\.block/);
    assert.equal(event?.user?.sub, ROBOT.client_id);
  });

  it('refuses a forged signature', async () => {
    const { privateKey } = await jose.generateKeyPair('RS256');
    const header = jose.decodeProtectedHeader(userToken);
    const forged = await new jose.SignJWT({ ...jose.decodeJwt(userToken), sub: 'user-alice' })
      .setProtectedHeader({ alg: 'RS256', kid: header.kid, typ: 'at+jwt' })
      .sign(privateKey);
    await refusedWith(`${stack.urls.wiki}/reports`, forged, 401, 'signature');
  });

  it('refuses alg none', async () => {
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    await refusedWith(`${stack.urls.wiki}/reports`, `${encode({ alg: 'none', typ: 'at+jwt' })}.${encode(jose.decodeJwt(userToken))}.`, 401, 'alg');
  });

  it('refuses a token for another audience', async () => {
    const robot = await oidc.discovery(new URL(stack.idp.issuer), ROBOT.client_id, ROBOT.client_secret, undefined, {
      [oidc.customFetch]: (url, init) => caFetch.fetch(url, init),
    });
    const elsewhere = (await oidc.clientCredentialsGrant(robot, { scope: 'connectors:register', resource: CONNECTOR_RESOURCE })).access_token;
    await refusedWith(`${stack.urls.wiki}/reports`, elsewhere, 401, 'aud_mismatch');
  });

  it('refuses an expired token, by the gateway clock', async () => {
    stack.clock.advance(11 * 60_000);
    await refusedWith(`${stack.urls.wiki}/reports`, robotToken, 401, 'expired');
  });

  it('refuses a token from an issuer the app does not trust', async () => {
    const url = stack.config.apps?.find((app) => app.id === 'strict')?.externalUrl ?? '';
    await refusedWith(`${url}/reports`, robotToken, 401, 'iss_mismatch');
  });

  it('refuses an ID token presented as a bearer token', async () => {
    // Its audience is the CLI's client id, which wiki lists: what refuses it is that it is an ID token.
    await refusedWith(`${stack.urls.wiki}/reports`, idToken, 401, 'id_token');
    await refusedWith(`${stack.urls.other}/reports`, idToken, 401, 'aud_mismatch');
  });

  it('refuses a token without the scope the app requires (403 insufficient_scope)', async () => {
    await refusedWith(`${stack.urls.other}/reports`, robotToken, 403, 'scope_missing', 'ERR_BEARER_SCOPE');
    const answer = await call(`${stack.urls.other}/reports`, robotToken);
    assert.equal(answer.challenge, 'Bearer realm="other", error="insufficient_scope"');
  });

  it('refuses a session cookie and a token together with 400', async () => {
    const browser = stack.browser();
    await signIn(stack, browser, 'bob', '/');
    const before = stack.backend.requests.length;
    const response = await browser.request(`${stack.urls.wiki}/reports`, { headers: { accept: 'application/json', authorization: `Bearer ${robotToken}` } });
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as ErrorBody).error.code, 'ERR_BEARER_WITH_COOKIE');
    assert.equal(stack.backend.requests.length, before);
    assert.equal(stack.audit.ofType('bearer.rejected').at(-1)?.reason, 'cookie_and_bearer');
  });

  it('answers an API call without a token 401 with the Bearer challenge, and still sends a browser navigation to sign in', async () => {
    const api = await call(`${stack.urls.wiki}/reports`, undefined);
    assert.equal(api.status, 401);
    assert.match(api.challenge ?? '', /^Bearer realm="wiki", Gatehouse realm="wiki"/);
    const navigation = await caFetch.fetch(`${stack.urls.wiki}/reports`, {
      headers: { accept: 'text/html', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document', 'user-agent': 'Mozilla/5.0' },
      redirect: 'manual',
    });
    assert.equal(navigation.status, 302);
    await navigation.body?.cancel();
  });

  it('closes a WebSocket opened with a token when the token expires', async () => {
    const { exp } = jose.decodeJwt(robotToken);
    assert.ok(exp !== undefined);
    // The gateway's clock a second and a half before the token expires: the upgrade is allowed, the socket lives that long.
    stack.clock.advance(exp * 1000 - 1500 - stack.clock());
    const socket = new WebSocket(`${stack.urls.wiki.replace('https', 'wss')}/ws`, {
      ca: stack.ca.certPem,
      lookup: toLoopback,
      headers: { authorization: `Bearer ${robotToken}`, origin: stack.urls.wiki },
      perMessageDeflate: false,
    });
    try {
      await once(socket, 'open');
      const opened = Date.now();
      const stillOpen = delay(10_000, 'still open 10 s later');
      assert.notEqual(await Promise.race([once(socket, 'close').then(() => 'closed'), stillOpen]), 'still open 10 s later');
      const lived = Date.now() - opened;
      assert.ok(lived < 5_000, `closed after ${lived} ms`);
    } finally {
      socket.terminate();
    }
  });

  it('does not treat Authorization as authentication on an app without bearer', async () => {
    const browser = stack.browser();
    await signIn(stack, browser, 'bob', '/');
    // `open` is pass-through and forwards what it gets; an app without `bearer` needs its session.
    const plain = await call(`${stack.config.apps?.find((app) => app.id === 'open')?.externalUrl ?? ''}/x`, robotToken);
    assert.equal(plain.status, 200);
    assert.equal(lastUpstream()['authorization'], `Bearer ${robotToken}`, 'an app without bearer gets the header as sent');
  });
});

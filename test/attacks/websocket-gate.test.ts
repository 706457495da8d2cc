import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import type { RiskLevel } from '../../src/policy/types.ts';
import { toLoopback } from '../support/loopback.ts';
import { signIn, startStack, type Stack } from '../support/stack.ts';

interface Refusal {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly body: { error: { code: string; signInUrl?: string } };
}

/**
 * A WebSocket upgrade is a request like any other: refused by the same
 * steps, for the same reasons, with the same audit events and the same
 * answer headers as a plain request to the same URL. A client must not get
 * past a check, or out of the audit log, by asking for an upgrade.
 */
describe('attack: asking for a WebSocket to get around the gate', function () {
  this.timeout(30_000);
  let stack: Stack;
  const risk: { level: RiskLevel } = { level: 'none' };
  const sockets: WebSocket[] = [];

  before(async () => {
    stack = await startStack({
      gatewayOptions: { riskProvider: () => Promise.resolve({ signInRisk: risk.level, userRisk: 'none' }) },
      configure: (config) => ({
        ...config,
        apps: (config.apps ?? []).map((app) => {
          if (app.id === 'wiki') return { ...app, policies: [{ name: 'risky sign-ins', conditions: { signInRisk: ['high'] }, grant: { block: true } }] };
          if (app.id === 'other')
            return { ...app, policies: [{ name: 'fresh sign-in', conditions: { users: { include: ['*'] } }, session: { signInFrequency: '10m' } }] };
          return app;
        }),
      }),
    });
  });
  after(async () => {
    for (const socket of sockets) socket.terminate();
    await stack.close();
  });
  beforeEach(() => {
    stack.audit.clear();
    stack.clock.reset();
    risk.level = 'none';
  });

  async function refusedUpgrade(path: string, headers: Record<string, string>, app: 'wiki' | 'other' = 'wiki'): Promise<Refusal> {
    const origin = stack.urls[app];
    const socket = new WebSocket(`${origin.replace('https', 'wss')}${path}`, {
      ca: stack.ca.certPem,
      lookup: toLoopback,
      headers: { origin, ...headers },
      perMessageDeflate: false,
    });
    socket.on('error', () => {});
    sockets.push(socket);
    const [, response] = (await once(socket, 'unexpected-response')) as [unknown, IncomingMessage];
    const chunks: Buffer[] = [];
    for await (const chunk of response) chunks.push(chunk as Buffer);
    return { status: response.statusCode ?? 0, headers: response.headers, body: JSON.parse(Buffer.concat(chunks).toString()) as Refusal['body'] };
  }

  async function aliceCookie(app: 'wiki' | 'other' = 'wiki'): Promise<string> {
    const browser = stack.browser();
    if (app === 'wiki') await signIn(stack, browser, 'alice');
    else await browser.signIn(`${stack.urls.other}/`, 'alice', 'alice-password');
    const cookie = await browser.jar.getCookieString(`${stack.urls[app]}/`);
    stack.backend.requests.length = 0;
    return cookie;
  }

  /** The same cookie with one character of the sealed session changed. */
  function forged(cookie: string): string {
    return cookie
      .split('; ')
      .map((pair) => {
        const [name = '', value = ''] = pair.split('=');
        if (!name.includes('gatehouse') || value.length < 20) return pair;
        const at = Math.floor(value.length / 2);
        return `${name}=${value.slice(0, at)}${value[at] === 'A' ? 'B' : 'A'}${value.slice(at + 1)}`;
      })
      .join('; ');
  }

  it('audits a forged session on an upgrade as session.rejected, as on a request', async () => {
    const cookie = forged(await aliceCookie());
    stack.audit.clear();
    const api = await stack.browser().request(`${stack.urls.wiki}/ws`, { headers: { accept: 'application/json', cookie } });
    assert.equal(api.status, 401);
    const http = stack.audit.ofType('session.rejected');
    assert.equal(http.length, 1);
    stack.audit.clear();

    const refused = await refusedUpgrade('/ws', { cookie });
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error.code, 'ERR_SESSION_INVALID');
    const upgrade = stack.audit.ofType('session.rejected');
    assert.equal(upgrade.length, 1);
    assert.equal(upgrade[0]?.reason, http[0]?.reason);
    assert.equal(upgrade[0]?.code, http[0]?.code);
    assert.equal(upgrade[0]?.app, 'wiki');
    assert.equal(stack.backend.requests.length, 0);
  });

  it('audits an upgrade the policy denies as access.denied, with the reason a request gets', async () => {
    const cookie = await aliceCookie();
    risk.level = 'high';
    stack.audit.clear();
    const api = await stack.browser().request(`${stack.urls.wiki}/ws`, { headers: { accept: 'application/json', cookie } });
    assert.equal(api.status, 403);
    const http = stack.audit.ofType('access.denied').at(-1);
    assert.ok(http?.reason);
    stack.audit.clear();

    const refused = await refusedUpgrade('/ws', { cookie });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, 'ERR_POLICY_DENIED');
    const upgrade = stack.audit.ofType('access.denied');
    assert.equal(upgrade.length, 1);
    assert.equal(upgrade[0]?.code, 'ERR_POLICY_DENIED');
    assert.equal(upgrade[0]?.reason, http.reason);
    assert.equal(upgrade[0]?.user?.sub, http.user?.sub);
  });

  it('answers an upgrade without a session with the WWW-Authenticate a request gets', async () => {
    const api = await stack.browser().request(`${stack.urls.wiki}/ws`, { headers: { accept: 'application/json' } });
    assert.equal(api.status, 401);
    const expected = api.headers.get('www-authenticate');
    assert.match(expected ?? '', /^Gatehouse realm="wiki", signin_url="/);

    const refused = await refusedUpgrade('/ws', {});
    assert.equal(refused.status, 401);
    assert.equal(refused.headers['www-authenticate'], expected);
    assert.equal(refused.body.error.signInUrl, ((await api.json()) as Refusal['body']).error.signInUrl);
  });

  it('sends an upgrade that needs a fresher sign-in to the step-up sign-in a request is sent to', async () => {
    const cookie = await aliceCookie('other');
    stack.clock.advance(11 * 60 * 1000);
    const api = await stack.browser().request(`${stack.urls.other}/ws`, { headers: { accept: 'application/json', cookie } });
    assert.equal(api.status, 401);
    const expected = ((await api.json()) as Refusal['body']).error;
    assert.equal(expected.code, 'ERR_STEP_UP_REQUIRED');
    assert.match(expected.signInUrl ?? '', /stepup=sign_in_frequency$/);

    const refused = await refusedUpgrade('/ws', { cookie }, 'other');
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error.code, 'ERR_STEP_UP_REQUIRED');
    assert.equal(refused.body.error.signInUrl, expected.signInUrl);
    assert.equal(refused.headers['www-authenticate'], api.headers.get('www-authenticate'));
  });

  it('refuses every spelling of /.gatehouse/ before the session gate, on requests as on upgrades, and audits it', async () => {
    for (const path of ['/.gatehouse/anything', '/%2egatehouse/x', '/.GATEHOUSE/x']) {
      stack.audit.clear();
      const api = await stack.browser().request(`${stack.urls.wiki}${path}`, { headers: { accept: 'application/json' } });
      assert.equal(api.status, 404, path);
      assert.equal(stack.audit.ofType('request.rejected').at(-1)?.reason, 'reserved_path', path);

      stack.audit.clear();
      const refused = await refusedUpgrade(path, {});
      assert.equal(refused.status, 404, path);
      assert.equal(stack.audit.ofType('request.rejected').at(-1)?.reason, 'upgrade:reserved_path', path);
    }
  });
});

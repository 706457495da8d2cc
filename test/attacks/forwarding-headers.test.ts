import assert from 'node:assert/strict';
import { startForwardingStack, type ForwardingStack } from '../support/forwarding-stack.ts';
import { rawRequest, rawUpgrade, type RawHeader, type RawTarget } from '../support/raw-forward.ts';
import type { Stack } from '../support/stack.ts';

interface Echo {
  readonly headers: Record<string, string | string[] | undefined>;
}

/**
 * What reaches the backend is decided by Gatehouse, whatever the client
 * sends: each case below once let a client choose a header the backend
 * trusts, or let a backend set Gatehouse's cookies. Run through the direct
 * forwarder and through a real connector's tunnel.
 */
for (const mode of ['direct', 'tunnel'] as const) {
  describe(`attack: choosing what the backend sees (${mode})`, function () {
    this.timeout(60_000);
    let forwarding: ForwardingStack;
    let stack: Stack;
    let alice: string;
    let carol: string;
    const target = (app: 'wiki' | 'open'): RawTarget => forwarding.target(app);
    const seenLast = (): Echo => {
      const last = stack.backend.requests.at(-1);
      assert.ok(last, 'the backend saw the request');
      return last;
    };

    before(async () => {
      forwarding = await startForwardingStack(mode);
      stack = forwarding.stack;
      ({ alice, carol } = forwarding.cookies);
    });
    after(async () => {
      await forwarding?.close();
    });
    beforeEach(() => {
      stack.audit.clear();
      stack.backend.requests.length = 0;
    });

    it('Expect: 100-continue does not turn off header clean-up, identity or the assertion', async () => {
      const response = await rawRequest(
        target('wiki'),
        'POST',
        '/echo',
        [
          ['Expect', '100-continue'],
          ['X-Remote-User', 'mallory@evil.test'],
          ['X-Remote-Groups', 'admins'],
          ['X-Forwarded-For', '10.6.6.6'],
          ['X-Gatehouse-Assertion', 'forged'],
          ['Cookie', `${alice}; app_pref=dark`],
          ['Accept', 'application/json'],
          ['Connection', 'close'],
        ],
        'hello',
      );
      assert.equal(response.status, 200, response.body);
      const { headers } = seenLast();
      assert.equal(headers['x-remote-user'], 'alice@gatehouse.test');
      assert.equal(headers['x-remote-groups'], 'admins,staff');
      assert.equal(headers['x-forwarded-for'], '127.0.0.1');
      assert.ok(headers['x-gatehouse-assertion'] && headers['x-gatehouse-assertion'] !== 'forged');
      assert.equal(headers['cookie'], 'app_pref=dark');
      assert.equal(headers['expect'], undefined);
    });

    it('drops header names with underscores, which CGI-style backends read as the real header', async () => {
      const response = await rawRequest(target('wiki'), 'GET', '/echo', [
        ['X_Remote_User', 'mallory@evil.test'],
        ['X_Forwarded_For', '10.6.6.6'],
        ['X_Gatehouse_Assertion', 'forged'],
        ['x_remote_groups', 'admins'],
        ['Cookie', alice],
        ['Accept', 'application/json'],
        ['Connection', 'close'],
      ]);
      assert.equal(response.status, 200, response.body);
      const { headers } = seenLast();
      assert.deepEqual(
        Object.keys(headers).filter((name) => name.includes('_')),
        [],
      );
      assert.equal(headers['x-remote-user'], 'alice@gatehouse.test');
    });

    it("strips every app's identity headers on a pass-through app in front of the same backend", async () => {
      const response = await rawRequest(target('open'), 'GET', '/admin', [
        ['X-Remote-User', 'alice@gatehouse.test'],
        ['x-remote-groups', 'admins'],
        ['Accept', 'application/json'],
        ['Connection', 'close'],
      ]);
      assert.equal(response.status, 200, response.body);
      const { headers } = seenLast();
      assert.equal(headers['x-remote-user'], undefined);
      assert.equal(headers['x-remote-groups'], undefined);
    });

    it('strips the identity headers other proxies use, which a migrated backend may still trust', async () => {
      const spoofed: RawHeader[] = [
        ['Remote-User', 'alice'],
        ['Remote-Groups', 'admins'],
        ['X-Auth-Request-User', 'alice'],
        ['X-Auth-Request-Email', 'alice@gatehouse.test'],
        ['X-Forwarded-User', 'alice'],
        ['X-Forwarded-Email', 'alice@gatehouse.test'],
        ['X-Forwarded-Groups', 'admins'],
        ['X-Ms-Client-Principal-Name', 'alice@gatehouse.test'],
        ['X-MS-CLIENT-PRINCIPAL', 'e30='],
        ['Cf-Access-Authenticated-User-Email', 'alice@gatehouse.test'],
        ['Cf-Access-Jwt-Assertion', 'forged'],
        ['X-Goog-Authenticated-User-Email', 'accounts.google.com:alice@gatehouse.test'],
        ['X-Goog-Iap-Jwt-Assertion', 'forged'],
        ['X-Amzn-Oidc-Identity', 'alice'],
        ['X-Pomerium-Claim-Email', 'alice@gatehouse.test'],
        ['X-Webauth-User', 'alice'],
      ];
      const response = await rawRequest(target('open'), 'GET', '/x', [...spoofed, ['Accept', 'application/json'], ['Connection', 'close']]);
      assert.equal(response.status, 200, response.body);
      const { headers } = seenLast();
      for (const [name] of spoofed) assert.equal(headers[name.toLowerCase()], undefined, name);
    });

    it('drops hop-by-hop headers and every header the client lists in Connection', async () => {
      const response = await rawRequest(target('open'), 'GET', '/x', [
        ['Connection', 'close, X-Custom-Hop'],
        ['X-Custom-Hop', '1'],
        ['Keep-Alive', 'timeout=5'],
        ['TE', 'trailers'],
        ['Trailer', 'X-Checksum'],
        ['Proxy-Authorization', 'Basic YTpi'],
        ['Proxy-Connection', 'keep-alive'],
        ['Accept', 'application/json'],
      ]);
      assert.equal(response.status, 200, response.body);
      const { headers } = seenLast();
      for (const name of ['x-custom-hop', 'keep-alive', 'te', 'trailer', 'proxy-authorization', 'proxy-connection'])
        assert.equal(headers[name], undefined, name);
    });

    it('refuses a Connection header that names a header Gatehouse sets', async () => {
      for (const [app, named] of [
        ['wiki', 'X-Gatehouse-Assertion'],
        ['wiki', 'x-remote-user'],
        ['open', 'X-Forwarded-For'],
        ['open', 'X-Request-Id'],
      ] as const) {
        const response = await rawRequest(target(app), 'GET', '/x', [
          ['Connection', `close, ${named}`],
          ['Cookie', alice],
          ['Accept', 'application/json'],
        ]);
        assert.equal(response.status, 400, `${app} ${named}`);
        assert.match(response.body, /"code":"ERR_BAD_REQUEST"/);
      }
      assert.equal(stack.backend.requests.length, 0);
      assert.equal(stack.audit.ofType('request.rejected').at(-1)?.reason, 'connection_names_gatehouse_header');
    });

    it('percent-encodes commas and percent signs inside group names, so one group cannot read as two', async () => {
      const response = await rawRequest(target('wiki'), 'GET', '/echo', [
        ['Cookie', carol],
        ['Accept', 'application/json'],
        ['Connection', 'close'],
      ]);
      assert.equal(response.status, 200, response.body);
      assert.equal(seenLast().headers['x-remote-groups'], 'R&D%2C Europe,ops,100%25');
    });

    it('refuses a body on GET, which a backend that ignores it would read as the next request', async () => {
      const smuggled = 'GET /admin HTTP/1.1\r\nHost: x\r\nX-Remote-User: alice@gatehouse.test\r\n\r\n';
      const response = await rawRequest(
        target('open'),
        'GET',
        '/x',
        [
          ['Accept', 'application/json'],
          ['Connection', 'close'],
        ],
        smuggled,
      );
      assert.equal(response.status, 400);
      assert.equal(stack.audit.ofType('request.rejected').at(-1)?.reason, 'body_not_allowed_for_method');
      assert.equal(stack.backend.requests.length, 0);
    });

    it('refuses request targets with a fragment or a backslash, so the path checked is the path served', async () => {
      for (const [path, reason] of [
        ['/x#/../admin/', 'request_target_fragment'],
        ['/public#', 'request_target_fragment'],
        ['/public\\..\\admin', 'request_target_backslash'],
        ['/a%zz', 'request_target_percent_encoding'],
      ] as const) {
        const response = await rawRequest(target('open'), 'GET', path, [
          ['Accept', 'application/json'],
          ['Connection', 'close'],
        ]);
        assert.equal(response.status, 400, path);
        assert.equal(stack.audit.ofType('request.rejected').at(-1)?.reason, reason, path);
      }
      const upgrade = await rawUpgrade(target('open'), '/socket#/../admin', []);
      assert.equal(upgrade.response.status, 400);
      assert.equal(stack.backend.requests.length, 0);
    });

    it("never lets a backend's response set, overwrite or clear Gatehouse's cookies, in any spelling", async () => {
      const response = await rawRequest(target('open'), 'GET', '/set-cookie', [
        ['Accept', 'application/json'],
        ['Connection', 'close'],
      ]);
      assert.equal(response.status, 200);
      const cookies = response.all('set-cookie');
      assert.deepEqual(
        cookies.map((line) => line.split(';')[0]),
        ['app_pref=dark'],
      );
    });

    it('filters a WebSocket handshake answer like any response: cookies, internal Location, noindex', async () => {
      const accepted = await rawUpgrade(target('open'), '/ws-cookie', []);
      assert.equal(accepted.response.status, 101);
      assert.deepEqual(
        accepted.response.all('set-cookie').map((line) => line.split(';')[0]),
        ['ws_pref=1'],
      );
      assert.equal(accepted.response.header('location'), `${stack.urls.open}/internal-landing`);
      assert.equal(accepted.response.header('x-robots-tag'), 'noindex, nofollow');
      assert.ok(accepted.firstMessage, 'the WebSocket works after the filtered handshake');

      const refused = await rawUpgrade(target('open'), '/ws-refuse', []);
      assert.equal(refused.response.status, 403);
      // This backend folds its refusal's cookies into one line; the line that starts with Gatehouse's cookie goes whole.
      assert.deepEqual(
        refused.response.all('set-cookie').filter((line) => /gatehouse/i.test(line)),
        [],
      );
      assert.equal(refused.response.header('location'), `${stack.urls.open}/internal-landing`);
      assert.equal(refused.response.header('x-robots-tag'), 'noindex, nofollow');
    });

    it("strips spoofed identity from a WebSocket handshake, and sets the signed-in user's", async () => {
      const upgrade = await rawUpgrade(target('wiki'), '/socket', [
        ['Cookie', alice],
        ['Origin', stack.urls.wiki],
        ['X-Remote-User', 'mallory@evil.test'],
        ['X_Remote_User', 'mallory@evil.test'],
        ['X-Gatehouse-Assertion', 'forged'],
        ['Remote-User', 'mallory'],
      ]);
      assert.equal(upgrade.response.status, 101);
      const echoed = JSON.parse(upgrade.firstMessage ?? '{}') as Echo;
      assert.equal(echoed.headers['x-remote-user'], 'alice@gatehouse.test');
      assert.equal(echoed.headers['remote-user'], undefined);
      assert.ok(echoed.headers['x-gatehouse-assertion'] && echoed.headers['x-gatehouse-assertion'] !== 'forged');
      assert.deepEqual(
        Object.keys(echoed.headers).filter((name) => name.includes('_')),
        [],
      );
      assert.doesNotMatch(String(echoed.headers['cookie'] ?? ''), /gatehouse/i);
    });

    it('refuses WebSocket upgrades under /.gatehouse/ on every app, pass-through included', async () => {
      for (const path of ['/.gatehouse/callback', '/.GATEHOUSE/x', '/%2egatehouse/callback', '/a/../.gatehouse/logout']) {
        const upgrade = await rawUpgrade(target('open'), path, []);
        assert.equal(upgrade.response.status, 404, path);
      }
      assert.equal(stack.backend.requests.length, 0);
      assert.equal(stack.audit.ofType('request.rejected').at(-1)?.reason, 'upgrade:reserved_path');
    });
  });
}

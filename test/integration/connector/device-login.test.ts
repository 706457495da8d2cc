import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { startIdentityProvider, type DevIdentityProvider } from '../../../dev/lib/identity-provider/index.ts';
import { createDevCa, type DevCa } from '../../../dev/lib/dev-ca.ts';
import { obtainAdminTokenByDeviceLogin, type DeviceLoginOptions } from '../../../src/connector/device-login.ts';
import { ConnectorError } from '../../../src/errors/connector-error.ts';
import { ServiceClient } from '../../../src/connector/service-client.ts';
import { BrowserClient, createCaFetch } from '../../../dev/lib/browser-client.ts';

const RESOURCE = 'urn:gatehouse:connectors';
const CLIENT_ID = 'gatehouse-connector';
const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

interface Started {
  readonly url: string;
  close(): Promise<void>;
}

/** An HTTPS server on 127.0.0.1:0 answering JSON from a table of paths. */
async function jsonServer(ca: DevCa, routes: (origin: string) => Record<string, { status?: number; body: unknown }>): Promise<Started> {
  const certificate = ca.issueServerCertificate(['127.0.0.1']);
  let origin = '';
  const server: Server = createServer({ cert: certificate.certPem, key: certificate.keyPem }, (req, res) => {
    const route = routes(origin)[new URL(req.url ?? '/', origin).pathname];
    req.resume();
    res.writeHead(route?.status ?? (route ? 200 : 404), { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(route?.body ?? { error: 'not_found' }));
  });
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: origin,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

/** Collects progress lines and lets a test wait for one. */
function progressRecorder(): { lines: string[]; progress: (line: string) => void; waitFor(pattern: RegExp): Promise<RegExpMatchArray> } {
  const lines: string[] = [];
  const waiters: Array<{ pattern: RegExp; resolve: (match: RegExpMatchArray) => void }> = [];
  return {
    lines,
    progress(line) {
      lines.push(line);
      for (const waiter of [...waiters]) {
        const match = waiter.pattern.exec(line);
        if (match) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(match);
        }
      }
    },
    waitFor(pattern) {
      for (const line of lines) {
        const match = pattern.exec(line);
        if (match) return Promise.resolve(match);
      }
      return new Promise((resolve) => waiters.push({ pattern, resolve }));
    },
  };
}

async function rejectsWithCode(promise: Promise<unknown>, code: string, pattern: RegExp, retryable = false): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ConnectorError, `expected a ConnectorError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.equal(error.retryable, retryable);
    assert.match(error.message, pattern);
    return true;
  });
}

describe('connector device login', function () {
  let idp: DevIdentityProvider;
  let serviceCa: DevCa;
  let service: Started;
  let client: ServiceClient;
  const cleanups: Array<() => Promise<void> | void> = [];

  before(async function () {
    idp = await startIdentityProvider({
      clients: [{ client_id: CLIENT_ID, redirect_uris: [], grant_types: [DEVICE_CODE_GRANT], response_types: [] }],
      resourceServers: { [RESOURCE]: { scope: 'connectors:register' } },
    });
    serviceCa = createDevCa({ commonName: 'device login service CA' });
    // Stands in for the service's registration-info route (docs/connector-protocol.md).
    service = await jsonServer(serviceCa, () => ({
      '/.gatehouse/connector/registration-info': {
        body: { issuer: idp.issuer, deviceClientId: CLIENT_ID, resource: RESOURCE, scope: 'openid connectors:register' },
      },
    }));
    client = new ServiceClient({ serviceUrl: service.url, ca: serviceCa.certPem });
  });

  after(async function () {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    client?.close();
    await service?.close();
    await idp?.close();
  });

  function browser(): BrowserClient {
    const created = new BrowserClient({ ca: idp.caPem });
    cleanups.push(() => created.close());
    return created;
  }

  function login(options: Partial<DeviceLoginOptions> & Pick<DeviceLoginOptions, 'progress'>): Promise<string> {
    return obtainAdminTokenByDeviceLogin({ client, idpCa: [idp.caPem], progressIntervalMs: 100, ...options });
  }

  it('prints the URL and code, shows progress while waiting, and returns a JWT access token for the service', async function () {
    const recorder = progressRecorder();
    const pending = login({ progress: recorder.progress });
    const [, uri, code] = await recorder.waitFor(/^To register this connector, open (\S+) and enter code (\S+)$/);
    assert.ok(uri !== undefined && code !== undefined);
    assert.ok(uri.startsWith(`${idp.issuer}/`), uri);
    await recorder.waitFor(/^\s+\(or open \S+user_code=\S+ to skip typing the code\)$/);
    // Progress is visible before anyone signs in.
    await recorder.waitFor(/^Still waiting for the sign-in; 10 min left\.$/);

    const person = browser();
    const input = await person.navigate(uri);
    const confirm = await person.submitForm(input.response, input.response.url, { user_code: code });
    const loginPage = await person.submitForm(confirm.response, confirm.response.url, {});
    const done = await person.submitForm(loginPage.response, loginPage.response.url, { login: 'alice', password: 'alice-password' });
    assert.match(await done.response.text(), /Sign-in complete/);

    const token = await pending;
    assert.ok(recorder.lines.includes('Signed in.'));
    assert.ok(!recorder.lines.some((line) => line.includes(token)), 'the token is never printed');
    const fetcher = createCaFetch({ ca: idp.caPem });
    cleanups.push(() => fetcher.close());
    const jwks = createLocalJWKSet((await (await fetcher.fetch(`${idp.issuer}/jwks`)).json()) as JSONWebKeySet);
    const { payload } = await jwtVerify(token, jwks, { issuer: idp.issuer, audience: RESOURCE });
    assert.equal(payload.sub, 'user-alice');
    assert.deepEqual(payload['roles'], ['admin']);
  });

  it('says so when the person declines at the identity provider', async function () {
    const recorder = progressRecorder();
    const pending = login({ progress: recorder.progress });
    const [, uri, code] = await recorder.waitFor(/^To register this connector, open (\S+) and enter code (\S+)$/);
    const person = browser();
    const input = await person.navigate(uri ?? '');
    const confirm = await person.submitForm(input.response, input.response.url, { user_code: code ?? '' });
    await person.submitForm(confirm.response, confirm.response.url, { abort: 'yes' });
    await rejectsWithCode(pending, 'ERR_DEVICE_LOGIN_DENIED', /declined at the identity provider/);
  });

  it('says the code expired when nobody signed in in time', async function () {
    const idpCa = createDevCa({ commonName: 'expiring IdP CA' });
    // A minimal authorization server whose token endpoint only ever says expired_token.
    const expiring = await jsonServer(idpCa, (origin) => ({
      '/.well-known/openid-configuration': {
        body: {
          issuer: origin,
          token_endpoint: `${origin}/token`,
          device_authorization_endpoint: `${origin}/device`,
          jwks_uri: `${origin}/jwks`,
          authorization_endpoint: `${origin}/auth`,
          response_types_supported: ['code'],
        },
      },
      '/device': { body: { device_code: 'dc', user_code: 'ABCD-EFGH', verification_uri: `${origin}/activate`, expires_in: 600, interval: 1 } },
      '/token': { status: 400, body: { error: 'expired_token', error_description: 'device code expired' } },
    }));
    cleanups.push(() => expiring.close());
    const registration = await jsonServer(serviceCa, () => ({
      '/.gatehouse/connector/registration-info': { body: { issuer: expiring.url, deviceClientId: CLIENT_ID, resource: RESOURCE, scope: 'openid' } },
    }));
    cleanups.push(() => registration.close());
    const otherClient = new ServiceClient({ serviceUrl: registration.url, ca: serviceCa.certPem });
    cleanups.push(() => otherClient.close());
    const recorder = progressRecorder();
    await rejectsWithCode(
      obtainAdminTokenByDeviceLogin({ client: otherClient, idpCa: [idpCa.certPem], progress: recorder.progress }),
      'ERR_DEVICE_CODE_EXPIRED',
      /expired before anyone signed in with it\. Run the command again/,
    );
    assert.ok(recorder.lines.some((line) => line.includes('enter code ABCD-EFGH')));
  });

  it('says the identity provider is not trusted and how to fix it', async function () {
    const stranger = createDevCa({ commonName: 'not the IdP CA' });
    const recorder = progressRecorder();
    await rejectsWithCode(
      login({ progress: recorder.progress, idpCa: [stranger.certPem] }),
      'ERR_IDP_UNREACHABLE',
      /is not trusted \(\w+\)\. Give its CA with --idp-ca-file FILE/,
    );
    assert.equal(recorder.lines.length, 0, 'no code is shown when the identity provider cannot be used');
  });

  describe('the RFC 8707 resource parameter', function () {
    let fake: Started;
    let fakeCa: DevCa;
    let requests: URLSearchParams[];

    before(async function () {
      requests = [];
      fakeCa = createDevCa({ commonName: 'resource-recording IdP CA' });
      const certificate = fakeCa.issueServerCertificate(['127.0.0.1']);
      let origin = '';
      // Refuses `resource` as Microsoft Entra ID's v2.0 endpoint does (AADSTS901002), and records what it got.
      const server = createServer({ cert: certificate.certPem, key: certificate.keyPem }, (req, res) => {
        let body = '';
        req.setEncoding('utf8');
        req.on('data', (chunk: string) => (body += chunk));
        req.on('end', () => {
          const path = new URL(req.url ?? '/', origin).pathname;
          const send = (status: number, value: unknown): void => {
            res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
            res.end(JSON.stringify(value));
          };
          if (path === '/.well-known/openid-configuration') {
            send(200, {
              issuer: origin,
              token_endpoint: `${origin}/token`,
              device_authorization_endpoint: `${origin}/device`,
              jwks_uri: `${origin}/jwks`,
              authorization_endpoint: `${origin}/auth`,
              response_types_supported: ['code'],
            });
          } else if (path === '/device') {
            const form = new URLSearchParams(body);
            requests.push(form);
            if (form.has('resource'))
              send(400, { error: 'invalid_target', error_description: "AADSTS901002: The 'resource' request parameter is not supported." });
            else send(200, { device_code: 'dc', user_code: 'WXYZ-1234', verification_uri: `${origin}/activate`, expires_in: 600, interval: 1 });
          } else if (path === '/token') {
            send(200, { access_token: 'opaque-admin-token', token_type: 'Bearer', expires_in: 3600 });
          } else {
            send(404, { error: 'not_found' });
          }
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
      fake = {
        url: origin,
        close: () => new Promise<void>((resolve) => server.close(() => resolve())),
      };
      cleanups.push(() => fake.close());
    });

    async function serviceSaying(info: Record<string, unknown>): Promise<ServiceClient> {
      const registration = await jsonServer(serviceCa, () => ({
        '/.gatehouse/connector/registration-info': { body: { issuer: fake.url, deviceClientId: CLIENT_ID, scope: 'api://gatehouse/.default', ...info } },
      }));
      cleanups.push(() => registration.close());
      const serviceClient = new ServiceClient({ serviceUrl: registration.url, ca: serviceCa.certPem });
      cleanups.push(() => serviceClient.close());
      return serviceClient;
    }

    it('is left out when the service names no resource, so a provider that refuses it signs in', async function () {
      const recorder = progressRecorder();
      const token = await obtainAdminTokenByDeviceLogin({ client: await serviceSaying({}), idpCa: [fakeCa.certPem], progress: recorder.progress });
      assert.equal(token, 'opaque-admin-token');
      assert.equal(requests.at(-1)?.has('resource'), false);
      assert.equal(requests.at(-1)?.get('scope'), 'api://gatehouse/.default');
      assert.equal(recorder.lines.at(-1), 'Signed in.');
    });

    it('is left out when the connector says resource: false, whatever the service names', async function () {
      const client = await serviceSaying({ resource: RESOURCE });
      await obtainAdminTokenByDeviceLogin({ client, idpCa: [fakeCa.certPem], progress: () => undefined, resource: false });
      assert.equal(requests.at(-1)?.has('resource'), false);
    });

    it('is sent when named, and the refusal names the provider and its reason', async function () {
      const client = await serviceSaying({});
      await rejectsWithCode(
        obtainAdminTokenByDeviceLogin({ client, idpCa: [fakeCa.certPem], progress: () => undefined, resource: 'https://connect.example.com' }),
        'ERR_IDP_ERROR',
        /refused the device authorization: invalid_target: AADSTS901002/,
      );
      assert.equal(requests.at(-1)?.get('resource'), 'https://connect.example.com');
    });
  });

  it('on a terminal shows one line redrawn with the time left, ending with the outcome', async function () {
    const written: string[] = [];
    const recorder = progressRecorder();
    const pending = login({ progress: recorder.progress, terminal: { isTTY: true, write: (text: string) => void written.push(text) } });
    const [, uri, code] = await recorder.waitFor(/^To register this connector, open (\S+) and enter code (\S+)$/);
    const person = browser();
    const input = await person.navigate(uri ?? '');
    const confirm = await person.submitForm(input.response, input.response.url, { user_code: code ?? '' });
    await person.submitForm(confirm.response, confirm.response.url, { abort: 'yes' });
    await rejectsWithCode(pending, 'ERR_DEVICE_LOGIN_DENIED', /declined at the identity provider/);
    assert.ok(written.length >= 2);
    for (const text of written.slice(0, -1)) {
      assert.ok(text.startsWith('\r\u001b[2K'), JSON.stringify(text));
      assert.match(text.slice(5), /^Waiting for the sign-in: \d+:\d\d left$/);
    }
    assert.equal(written.at(-1), '\r\x1b[2KDeclined at the identity provider.\n');
    assert.ok(!recorder.lines.some((line) => /still waiting/i.test(line)), 'no plain waiting lines on a terminal');
  });

  it('refuses registration-info that is not usable', async function () {
    const broken = await jsonServer(serviceCa, () => ({ '/.gatehouse/connector/registration-info': { body: { issuer: 'http://insecure.example' } } }));
    cleanups.push(() => broken.close());
    const brokenClient = new ServiceClient({ serviceUrl: broken.url, ca: serviceCa.certPem });
    cleanups.push(() => brokenClient.close());
    await rejectsWithCode(
      obtainAdminTokenByDeviceLogin({ client: brokenClient, progress: () => undefined }),
      'ERR_SERVICE_BAD_RESPONSE',
      /registration-info is not usable \(issuer: .*Pass an admin token with --token instead/,
    );
  });
});

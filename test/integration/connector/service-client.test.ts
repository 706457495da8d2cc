import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { createDevCa, type DevCa } from '../../../dev/lib/dev-ca.ts';
import type { ConnectorErrorCode } from '../../../src/errors/connector-codes.ts';
import { ConnectorError } from '../../../src/errors/connector-error.ts';
import { ServiceClient, parseServiceUrl } from '../../../src/connector/service-client.ts';
import { freePort } from '../../support/free-port.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

interface TestServer {
  readonly url: string;
  close(): Promise<void>;
}

async function listen(server: Server): Promise<TestServer> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

function jsonError(res: ServerResponse, status: number, code: string, reason: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { code, reason, message, requestId: 'req-42' } }));
}

async function expectError(
  promise: Promise<unknown>,
  expected: { code: ConnectorErrorCode; retryable: boolean; message?: RegExp; reason?: string },
): Promise<ConnectorError> {
  let caught: ConnectorError | undefined;
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ConnectorError, `expected a ConnectorError, got ${String(error)}`);
    assert.equal(error.code, expected.code, error.message);
    assert.equal(error.retryable, expected.retryable);
    if (expected.message) assert.match(error.message, expected.message);
    if (expected.reason) assert.equal(error.reason, expected.reason);
    caught = error;
    return true;
  });
  return caught!;
}

describe('connector service client', function () {
  let ca: DevCa;
  let otherCa: DevCa;
  const servers: TestServer[] = [];
  const clients: ServiceClient[] = [];

  function client(url: string, options: Partial<ConstructorParameters<typeof ServiceClient>[0]> = {}): ServiceClient {
    const created = new ServiceClient({ serviceUrl: url, ca: ca.certPem, ...options });
    clients.push(created);
    return created;
  }

  // The dev CA issues server certificates; as client certificates they are only shown, not verified, here.
  function identityFor(name: string): { keyPem: string; certPem: string } {
    const issued = ca.issueServerCertificate([name]);
    return { keyPem: issued.keyPem, certPem: issued.certPem };
  }

  async function httpsServer(handler: Handler, certificateFor: DevCa = ca, hostnames = ['127.0.0.1']): Promise<TestServer> {
    const certificate = certificateFor.issueServerCertificate(hostnames);
    const server = createHttpsServer({ cert: certificate.certPem, key: certificate.keyPem, requestCert: true, rejectUnauthorized: false }, handler);
    const started = await listen(server);
    servers.push(started);
    return started;
  }

  before(function () {
    ca = createDevCa({ commonName: 'service client test CA' });
    otherCa = createDevCa({ commonName: 'an interception proxy CA' });
  });

  afterEach(async function () {
    for (const created of clients.splice(0)) created.close();
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  it('accepts only an https origin as the service URL', function () {
    assert.equal(parseServiceUrl('https://gatehouse.example.com:8444/').href, 'https://gatehouse.example.com:8444/');
    for (const bad of ['http://gatehouse.example.com', 'https://u:p@gatehouse.example.com', 'https://gatehouse.example.com/path', 'not a url']) {
      assert.throws(
        () => parseServiceUrl(bad),
        (error: unknown) => error instanceof TypeError && (error as { code?: string }).code === 'ERR_INVALID_ARG_VALUE',
        bad,
      );
    }
  });

  it('says the service certificate is not trusted, names interception and --ca-file, and does not retry', async function () {
    const intercepted = await httpsServer((_req, res) => res.end('{}'), otherCa);
    const error = await expectError(client(intercepted.url).call({ method: 'GET', path: '/x' }), {
      code: 'ERR_SERVICE_UNTRUSTED',
      retryable: false,
      message: /is not trusted \(UNABLE_TO_VERIFY_LEAF_SIGNATURE.*--ca-file FILE.*TLS-intercepting proxy/s,
    });
    assert.equal(error.reason, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    // Without a CA bundle the system roots do not know a private CA either.
    const systemRoots = new ServiceClient({ serviceUrl: intercepted.url });
    clients.push(systemRoots);
    await expectError(systemRoots.call({ method: 'GET', path: '/x' }), { code: 'ERR_SERVICE_UNTRUSTED', retryable: false, message: /TLS-intercepting proxy/ });
  });

  it('says when the certificate is for another host name', async function () {
    const elsewhere = await httpsServer((_req, res) => res.end('{}'), ca, ['other.example']);
    await expectError(client(elsewhere.url).call({ method: 'GET', path: '/x' }), {
      code: 'ERR_SERVICE_UNTRUSTED',
      retryable: false,
      reason: 'ERR_TLS_CERT_ALTNAME_INVALID',
      message: /not for that host name/,
    });
  });

  it('reports a closed port as unreachable and retryable', async function () {
    const port = await freePort();
    await expectError(client(`https://127.0.0.1:${port}`).call({ method: 'GET', path: '/x' }), {
      code: 'ERR_SERVICE_UNREACHABLE',
      retryable: true,
      reason: 'ECONNREFUSED',
      message: new RegExp(`https://127\\.0\\.0\\.1:${port} is unreachable`),
    });
  });

  it('reports a port that does not speak TLS', async function () {
    const plain = await listen(createHttpServer((_req, res) => res.end('hello')));
    servers.push(plain);
    await expectError(client(plain.url).call({ method: 'GET', path: '/x' }), {
      code: 'ERR_SERVICE_TLS',
      retryable: false,
      message: /does not seem to speak TLS/,
    });
  });

  it('relays the service JSON errors verbatim, with the right code and retry decision', async function () {
    const server = await httpsServer((req, res) => {
      switch (req.url) {
        case '/token':
          return jsonError(res, 401, 'ERR_ADMIN_TOKEN_INVALID', 'not_admin', 'The access token was refused: not an administrator.');
        case '/cert':
          return jsonError(res, 401, 'ERR_CERT_REFUSED', 'unknown_certificate', 'This call needs the client certificate the service issued.');
        case '/revoked':
          return jsonError(res, 401, 'ERR_CONNECTOR_REVOKED', 'revoked', 'This connector was revoked by an administrator.');
        case '/csr':
          return jsonError(res, 400, 'ERR_CSR_INVALID', 'key_too_small', "The certificate request's RSA key has 1024 bits; at least 2048 are required.");
        case '/group':
          return jsonError(res, 400, 'ERR_UNKNOWN_GROUP', 'unknown_group', 'No published app uses this connector group.');
        case '/busy':
          return jsonError(res, 503, 'ERR_INTERNAL', 'starting', 'Starting up.');
        case '/proxy':
          res.writeHead(403, { 'content-type': 'text/html' });
          return res.end('<html>Blocked by policy</html>');
        case '/html':
          res.writeHead(200, { 'content-type': 'text/html' });
          return res.end('<html>login</html>');
        case '/huge':
          res.writeHead(200, { 'content-type': 'application/json' });
          return res.end(`"${'x'.repeat(200_000)}"`);
        case '/ok':
          res.writeHead(200, { 'content-type': 'application/json' });
          return res.end(JSON.stringify({ fine: true, method: req.method, auth: req.headers.authorization ?? null }));
        default:
          res.writeHead(404).end();
      }
    });
    const service = client(server.url, { identity: identityFor('connector') });

    assert.deepEqual(await service.call({ method: 'POST', path: '/ok', body: { a: 1 }, bearer: 'tok' }), { fine: true, method: 'POST', auth: 'Bearer tok' });

    const token = await expectError(service.call({ method: 'POST', path: '/token', anonymous: true, bearer: 'tok', body: {} }), {
      code: 'ERR_TOKEN_REFUSED',
      retryable: false,
      reason: 'not_admin',
      message: /refused the admin token: The access token was refused: not an administrator\. \(ERR_ADMIN_TOKEN_INVALID, reason not_admin, request req-42\)/,
    });
    assert.deepEqual(token.service, {
      status: 401,
      code: 'ERR_ADMIN_TOKEN_INVALID',
      reason: 'not_admin',
      message: 'The access token was refused: not an administrator.',
      requestId: 'req-42',
    });
    await expectError(service.call({ method: 'GET', path: '/cert' }), {
      code: 'ERR_CERT_REFUSED',
      retryable: false,
      message:
        /refused this connector's certificate: .*Register the connector again: gatehouse-connector register --service https:\/\/127\.0\.0\.1:\d+ --force/,
    });
    await expectError(service.call({ method: 'GET', path: '/revoked' }), { code: 'ERR_CONNECTOR_REVOKED', retryable: false, message: /revoked.*--force/s });
    await expectError(service.call({ method: 'POST', path: '/csr', anonymous: true, bearer: 't', body: {} }), {
      code: 'ERR_CSR_REFUSED',
      retryable: false,
      reason: 'key_too_small',
      message: /1024 bits; at least 2048/,
    });
    await expectError(service.call({ method: 'POST', path: '/group', anonymous: true, bearer: 't', body: {} }), {
      code: 'ERR_UNKNOWN_GROUP',
      retryable: false,
    });
    await expectError(service.call({ method: 'GET', path: '/busy' }), { code: 'ERR_SERVICE_UNAVAILABLE', retryable: true, message: /Starting up/ });
    await expectError(service.call({ method: 'GET', path: '/proxy' }), {
      code: 'ERR_SERVICE_REFUSED',
      retryable: false,
      message: /HTTP 403 without the service's JSON error: something else answered \(a proxy/,
    });
    await expectError(service.call({ method: 'GET', path: '/html' }), { code: 'ERR_SERVICE_BAD_RESPONSE', retryable: false, reason: 'not_json' });
    await expectError(service.call({ method: 'GET', path: '/huge' }), { code: 'ERR_SERVICE_BAD_RESPONSE', retryable: false, reason: 'too_large' });
  });

  it('times out a service that never answers (retryable), and stops at once when aborted', async function () {
    const silent = await httpsServer(() => undefined);
    await expectError(client(silent.url, { timeoutMs: 300 }).call({ method: 'GET', path: '/x' }), { code: 'ERR_SERVICE_TIMEOUT', retryable: true });
    const controller = new AbortController();
    const pending = client(silent.url).call({ method: 'GET', path: '/x', signal: controller.signal });
    controller.abort();
    await expectError(pending, { code: 'ERR_ABORTED', retryable: false });
  });

  it('presents its client certificate, and the new one right after a swap, on a kept-alive client', async function () {
    const server = await httpsServer((req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ cn: peer.subject?.CN ?? null }));
    });
    const service = client(server.url, { identity: identityFor('connector-one') });
    assert.equal(((await service.call({ method: 'GET', path: '/' })) as { cn: string }).cn, 'connector-one');
    assert.equal(((await service.call({ method: 'GET', path: '/' })) as { cn: string }).cn, 'connector-one');
    assert.equal(((await service.call({ method: 'GET', path: '/', anonymous: true })) as { cn: string | null }).cn, null);
    service.setIdentity(identityFor('connector-two'));
    assert.equal(((await service.call({ method: 'GET', path: '/' })) as { cn: string }).cn, 'connector-two');
  });

  it('opens an event stream, and maps a refused one like any call', async function () {
    const server = await httpsServer((req, res) => {
      if (req.url === '/events') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(': ping\n\n');
        return;
      }
      if (req.url === '/wrong') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
        return;
      }
      jsonError(res, 401, 'ERR_CERT_REFUSED', 'no_certificate', 'This call needs the client certificate the service issued.');
    });
    const service = client(server.url, { identity: identityFor('connector') });
    const stream = await service.openStream({ path: '/events' });
    let text = '';
    for await (const chunk of stream) text += String(chunk);
    assert.equal(text, ': ping\n\n');
    await expectError(service.openStream({ path: '/refused' }), { code: 'ERR_CERT_REFUSED', retryable: false });
    await expectError(service.openStream({ path: '/wrong' }), { code: 'ERR_SERVICE_BAD_RESPONSE', retryable: false, reason: 'not_event_stream' });
  });
});

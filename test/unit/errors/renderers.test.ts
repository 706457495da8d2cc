import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { mapHttpError } from '../../../src/connector/service-errors.ts';
import { GatehouseError } from '../../../src/errors/gatehouse-error.ts';
import { refuseConnectorUpgrade, refuseHandshake, rejectUpgrade } from '../../../src/errors/render-raw.ts';
import { sendError } from '../../../src/errors/render-user.ts';

interface Answer {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

describe('the error renderers', function () {
  let server: Server;
  let onUpgrade: (socket: Duplex) => void = () => {};
  let onRequest: (req: IncomingMessage, res: ServerResponse) => void = () => {};

  before(async function () {
    server = createServer((req, res) => onRequest(req, res));
    server.on('upgrade', (_req, socket: Duplex) => onUpgrade(socket));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  });
  after(async function () {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  });

  async function ask(upgrade: boolean): Promise<Answer> {
    const { port } = server.address() as AddressInfo;
    const headers = upgrade ? { connection: 'Upgrade', upgrade: 'websocket', accept: 'application/json' } : { accept: 'application/json' };
    const req = request({ host: '127.0.0.1', port, path: '/x', headers, agent: false });
    req.end();
    const [res] = (await once(req, 'response')) as [IncomingMessage];
    let body = '';
    for await (const chunk of res) body += String(chunk);
    return { status: res.statusCode ?? 0, headers: res.headers, body };
  }

  it('answers a refused upgrade with the same JSON an HTTP request gets, and closes', async function () {
    const error = new GatehouseError('ERR_SESSION_EXPIRED', 'expired');
    onRequest = (req, res) => sendError(req, res, error, { signInUrl: '/.gatehouse/signin?rd=%2F', format: 'json' });
    onUpgrade = (socket) => rejectUpgrade(socket, error, { requestId: 'unknown', signInUrl: '/.gatehouse/signin?rd=%2F' });
    const http = await ask(false);
    const raw = await ask(true);
    assert.equal(raw.status, 401);
    assert.equal(raw.status, http.status);
    assert.deepEqual(JSON.parse(raw.body), JSON.parse(http.body));
    assert.equal(raw.headers['www-authenticate'], http.headers['www-authenticate']);
    assert.equal(raw.headers['connection'], 'close');
    assert.equal(raw.headers['cache-control'], 'no-store');
  });

  it('offers a fresh sign-in on a refused upgrade only where the table says it helps, as a page does', async function () {
    const error = new GatehouseError('ERR_POLICY_DENIED', 'location');
    onRequest = (req, res) => sendError(req, res, error, { signInUrl: '/.gatehouse/signin', format: 'json' });
    onUpgrade = (socket) => rejectUpgrade(socket, error, { requestId: 'unknown', signInUrl: '/.gatehouse/signin' });
    const http = await ask(false);
    const raw = await ask(true);
    assert.equal(raw.status, 403);
    assert.equal((JSON.parse(raw.body) as { error: { signInUrl?: string } }).error.signInUrl, undefined);
    assert.deepEqual(JSON.parse(raw.body), JSON.parse(http.body));
  });

  it('fills the app into a refused upgrade message from configuration, never leaving a placeholder', async function () {
    onUpgrade = (socket) => rejectUpgrade(socket, new GatehouseError('ERR_NO_CONNECTOR'), { appId: 'wiki' });
    const named = JSON.parse((await ask(true)).body) as { error: { message: string } };
    assert.match(named.error.message, /"wiki"/);
    onUpgrade = (socket) => rejectUpgrade(socket, new GatehouseError('ERR_NO_CONNECTOR'));
    const unnamed = JSON.parse((await ask(true)).body) as { error: { message: string } };
    assert.doesNotMatch(unnamed.error.message, /\{app\}/);
  });

  it("refuses a connector's tunnel upgrade with the connector plane's JSON, which the connector reads as the same refusal", async function () {
    onUpgrade = (socket) => refuseConnectorUpgrade(socket, new GatehouseError('ERR_CERT_REFUSED', 'unknown_certificate'));
    const raw = await ask(true);
    assert.equal(raw.status, 401);
    assert.deepEqual(JSON.parse(raw.body), {
      error: { code: 'ERR_CERT_REFUSED', reason: 'unknown_certificate', message: new GatehouseError('ERR_CERT_REFUSED').message },
    });
    const heard = mapHttpError(raw.status, raw.body, { serviceUrl: 'https://gatehouse.example', withIdentity: true, withToken: false });
    assert.equal(heard.code, 'ERR_CERT_REFUSED');
    assert.equal(heard.reason, 'unknown_certificate');
  });

  it('refuses a handshake it does not speak with a bare 400', async function () {
    onUpgrade = (socket) => refuseHandshake(socket);
    const raw = await ask(true);
    assert.equal(raw.status, 400);
    assert.equal(raw.body, '');
    assert.equal(raw.headers['content-length'], '0');
  });
});

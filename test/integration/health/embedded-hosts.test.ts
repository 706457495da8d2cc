import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { memorySink } from '../../../src/audit/audit-log.ts';
import { createGateway, type Gateway } from '../../../src/gateway/create-gateway.ts';
import { freePort } from '../../support/free-port.ts';
import { SECRET_1 } from '../../support/stack.ts';

function get(port: number, path: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('health: which hosts answer, with the gateway mounted in an Express app', function () {
  this.timeout(30_000);
  const running: { server: Server; gateway: Gateway }[] = [];

  async function mount(unknownHost: 'reject' | 'next'): Promise<number> {
    const gateway = createGateway(
      {
        identityProvider: { issuer: `https://127.0.0.1:${await freePort()}`, clientId: 'gatehouse', clientSecret: 'not-used-here' },
        session: { secrets: [{ id: 1, secret: SECRET_1 }] },
        store: { url: 'memory:' },
        apps: [{ id: 'wiki', externalUrl: 'http://wiki.localhost', internalUrl: 'http://127.0.0.1:1' }],
      },
      { unknownHost, audit: memorySink() },
    );
    const app = express();
    app.use(gateway.handler);
    app.use((_req, res) => void res.status(418).send('the host app'));
    const server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    running.push({ server, gateway });
    return (server.address() as AddressInfo).port;
  }

  after(async () => {
    for (const { server, gateway } of running) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await gateway.close();
    }
  });

  it('answers on published hosts only when other hosts belong to the host app', async () => {
    const port = await mount('next');
    assert.equal((await get(port, '/.gatehouse/healthz', 'wiki.localhost')).status, 200);
    assert.deepEqual(await get(port, '/.gatehouse/healthz', 'intranet.localhost'), { status: 418, body: 'the host app' });
    assert.equal((await get(port, '/.gatehouse/readyz', 'intranet.localhost')).status, 418);
  });

  it('answers on any host when the gateway owns the server (a load balancer probing by address)', async () => {
    const port = await mount('reject');
    assert.equal((await get(port, '/.gatehouse/healthz', `127.0.0.1:${port}`)).status, 200);
    const ready = await get(port, '/.gatehouse/readyz', '10.0.0.7');
    assert.equal(ready.status, 503);
    assert.equal((JSON.parse(ready.body) as { checks: { idp: { ok: boolean } } }).checks.idp.ok, false);
    assert.equal((await get(port, '/anything', '10.0.0.7')).status, 404, 'other paths of an unknown host are still refused');
  });
});

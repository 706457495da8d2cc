import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { createDevCa, type DevCa } from '../../dev/lib/dev-ca.ts';
import { startNode, type RunningProcess } from '../../dev/lib/processes.ts';
import { startEchoBackend, type EchoBackend } from '../support/backend.ts';
import { freePort } from '../support/free-port.ts';
import { toLoopback } from '../support/loopback.ts';
import { SECRET_1 } from '../support/stack.ts';

const CLI = fileURLToPath(new URL('../../src/cli/gatehouse.ts', import.meta.url));

describe('gatehouse serve: reload on SIGHUP and POST /.gatehouse/admin/reload', function () {
  this.timeout(60_000);
  let dir: string;
  let ca: DevCa;
  let backend: EchoBackend;
  let serve: RunningProcess | undefined;
  let agent: Agent;
  let port: number;
  let adminPort: number;

  function writeConfig(apps: string[], extra = ''): void {
    writeFileSync(
      join(dir, 'gatehouse.yaml'),
      `identityProvider:
  issuer: https://127.0.0.1:1
  clientId: gatehouse
  clientSecret: not-used-here
session:
  secrets: [{ id: 1, secret: ${SECRET_1} }]
store:
  url: "memory:"
server:
  host: 127.0.0.1
  port: ${port}
  tls: { certFile: tls.crt, keyFile: tls.key }
admin:
  listen: 127.0.0.1:${adminPort}
${extra}apps:
${apps.map((id) => `  - { id: ${id}, externalUrl: "https://${id}.gatehouse.test:${port}", internalUrl: "${backend.url}", preauth: passthrough }\n`).join('')}`,
    );
  }

  function writeCertificate(): void {
    const certificate = ca.issueServerCertificate(['open.gatehouse.test', 'added.gatehouse.test']);
    writeFileSync(join(dir, 'tls.crt'), certificate.certPem);
    writeFileSync(join(dir, 'tls.key'), certificate.keyPem);
  }

  /** The serial number of the certificate a new connection is given. */
  function servedSerial(): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, servername: 'open.gatehouse.test', ca: ca.certPem }, () => {
        resolve(socket.getPeerCertificate().serialNumber);
        socket.end();
      });
      socket.on('error', reject);
    });
  }

  async function status(id: string): Promise<number> {
    const response = await request(`https://${id}.gatehouse.test:${port}/x`, { dispatcher: agent });
    await response.body.text();
    return response.statusCode;
  }

  async function reloadThroughAdmin(): Promise<{ status: number; body: { applied: boolean; changed?: string[]; problems?: string[] } }> {
    const response = await request(`http://127.0.0.1:${adminPort}/.gatehouse/admin/reload`, { method: 'POST' });
    return { status: response.statusCode, body: (await response.body.json()) as { applied: boolean; changed?: string[]; problems?: string[] } };
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-reload-serve-'));
    ca = createDevCa();
    backend = await startEchoBackend();
    [port, adminPort] = await Promise.all([freePort(), freePort()]);
    // New connections each time: a reload must be seen by the next one.
    agent = new Agent({ connect: { ca: ca.certPem, lookup: toLoopback }, pipelining: 0 });
  });
  after(async () => {
    await serve?.stop('SIGKILL');
    await agent.close();
    await backend.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('applies a new app and a rotated certificate, refuses a bad file and a restart-only change, and keeps serving', async () => {
    writeCertificate();
    writeConfig(['open']);
    serve = startNode(CLI, ['serve', '--config', join(dir, 'gatehouse.yaml'), '--log-level', 'silent']);
    await serve.waitFor(/admin listener on/);
    assert.equal(await status('open'), 200);
    assert.equal(await status('added'), 404);
    const firstSerial = await servedSerial();

    // SIGHUP: the file with one more app and a new certificate.
    writeCertificate();
    writeConfig(['open', 'added']);
    serve.child.kill('SIGHUP');
    await serve.waitFor(/gatehouse: reloaded .*gatehouse\.yaml \(apps\[added\] added, server\.tls\)/);
    assert.equal(await status('added'), 200);
    assert.notEqual(await servedSerial(), firstSerial, 'new connections get the new certificate');

    // The endpoint: a file that does not validate is refused with its problems, and the running configuration stays.
    writeConfig(['open', 'added'], 'mfa: { methods: 12 }\n');
    const bad = await reloadThroughAdmin();
    assert.equal(bad.status, 422);
    assert.equal(bad.body.applied, false);
    assert.ok(
      bad.body.problems?.some((problem) => problem.startsWith('mfa')),
      JSON.stringify(bad.body),
    );
    await serve.waitFor(/reload of .*gatehouse\.yaml refused, the running configuration stays:\n {2}- mfa/);
    assert.equal(await status('added'), 200);

    // A key that needs a restart: named, and nothing else applied with it.
    writeConfig(['open'], 'logging: { level: debug }\n');
    const restart = await reloadThroughAdmin();
    assert.deepEqual(restart.body, { applied: false, problems: ['logging.level: cannot change while the gateway runs (restart to apply)'] });
    assert.equal(await status('added'), 200);

    // The app removed, through the endpoint.
    writeConfig(['open']);
    const removed = await reloadThroughAdmin();
    assert.deepEqual(removed.body, { applied: true, changed: ['apps[added] removed'], warnings: [] });
    assert.equal(await status('added'), 404);
    assert.equal(await status('open'), 200);

    assert.equal(await serve.stop('SIGTERM'), 0);
    serve = undefined;
  });
});

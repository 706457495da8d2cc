import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startNode, type RunningProcess } from '../../../dev/lib/processes.ts';
import { freePort } from '../../support/free-port.ts';
import { SECRET_1 } from '../../support/stack.ts';

const CLI = fileURLToPath(new URL('../../../src/cli/gatehouse.ts', import.meta.url));

describe('gatehouse serve with admin.listen', function () {
  this.timeout(30_000);
  let dir: string;
  let serve: RunningProcess | undefined;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-serve-admin-'));
  });
  after(async () => {
    await serve?.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints the admin address at start and serves health and metrics there until it stops', async () => {
    const [port, adminPort, idpPort] = await Promise.all([freePort(), freePort(), freePort()]);
    writeFileSync(
      join(dir, 'gatehouse.yaml'),
      `identityProvider:
  issuer: https://127.0.0.1:${idpPort}
  clientId: gatehouse
  clientSecret: not-used-here
session:
  secrets: [{ id: 1, secret: ${SECRET_1} }]
store:
  url: "memory:"
server: { host: 127.0.0.1, port: ${port} }
admin:
  listen: 127.0.0.1:${adminPort}
apps:
  - id: wiki
    externalUrl: http://wiki.localhost:${port}
    internalUrl: http://127.0.0.1:1
`,
    );
    serve = startNode(CLI, ['serve', '--config', join(dir, 'gatehouse.yaml'), '--log-level', 'silent']);
    const [, url] = await serve.waitFor(/admin listener on (http:\/\/\S+)/);
    assert.equal(url, `http://127.0.0.1:${adminPort}`);
    assert.deepEqual(await (await fetch(`${url}/.gatehouse/healthz`)).json(), { status: 'ok' });
    const ready = await fetch(`${url}/.gatehouse/readyz`);
    assert.equal(ready.status, 503, 'its identity provider does not answer');
    assert.equal(((await ready.json()) as { checks: { idp: { ok: boolean } } }).checks.idp.ok, false);
    assert.match(await (await fetch(`${url}/metrics`)).text(), /^gatehouse_process_cpu_user_seconds_total /m);
    assert.equal(await serve.stop('SIGTERM'), 0);
    serve = undefined;
    await assert.rejects(fetch(`${url}/.gatehouse/healthz`));
  });
});

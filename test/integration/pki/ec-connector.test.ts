import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runConnectorCli, startConnectorCli } from '../../../dev/lib/connector-process.ts';
import type { RunningProcess } from '../../../dev/lib/processes.ts';
import { startStack, type Stack } from '../../support/stack.ts';

const DAY_MS = 86_400_000;

interface Echo {
  path: string;
}

function keyOf(dir: string): { keyPem: string; certPem: string } {
  return { keyPem: readFileSync(join(dir, 'connector.key'), 'utf8'), certPem: readFileSync(join(dir, 'connector.crt'), 'utf8') };
}

function linkConnections(process: RunningProcess): number {
  return (process.stdout() + process.stderr()).match(/tunnel-1 link connected/g)?.length ?? 0;
}

async function until(condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function describeKey(keyPem: string): string {
  const key = createPrivateKey(keyPem);
  return `${key.asymmetricKeyType ?? '?'} ${key.asymmetricKeyDetails?.namedCurve ?? key.asymmetricKeyDetails?.modulusLength ?? ''}`;
}

describe('an EC P-256 connector end to end (real stack, real connector process)', function () {
  this.timeout(120_000);
  let stack: Stack;
  let root: string;
  const running: RunningProcess[] = [];

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'gatehouse-ec-connector-'));
    stack = await startStack({ connectors: true });
  });
  after(async () => {
    for (const process of running.splice(0)) await process.stop('SIGKILL');
    stack.clock.reset();
    await stack.close();
    rmSync(root, { recursive: true, force: true });
  });

  async function register(stateDir: string, extra: string[]): Promise<string> {
    const registered = await runConnectorCli(
      ['register', '--service', stack.connectorUrl, '--state-dir', stateDir, '--ca-file', stack.connectorCaFile, ...extra],
      {
        GATEHOUSE_CONNECTOR_TOKEN: await stack.adminToken('alice'),
      },
    );
    assert.equal(registered.code, 0, registered.stderr);
    return registered.stdout;
  }

  async function reachBackend(path: string): Promise<void> {
    const response = await stack.browser().request(`${stack.urls.open}${path}`, { headers: { accept: 'application/json' } });
    const text = await response.text();
    assert.equal(response.status, 200, text);
    assert.equal((JSON.parse(text) as Echo).path, path);
  }

  it('registers with --key-type ec, carries requests through its tunnels, and renews to a new EC key', async () => {
    const stateDir = join(root, 'ec');
    const stdout = await register(stateDir, ['--key-type', 'ec', '--name', 'ec-host']);
    assert.match(stdout, /key:\s+EC P-256/);
    const first = keyOf(stateDir);
    assert.equal(describeKey(first.keyPem), 'ec prime256v1');
    assert.equal(new X509Certificate(first.certPem).publicKey.asymmetricKeyType, 'ec');

    const connector = startConnectorCli(['run', '--state-dir', stateDir, '--log-level', 'info']);
    running.push(connector);
    await connector.waitFor(/tunnel-1 link connected/);
    await reachBackend('/ec-before-renewal');

    // Due for renewal by the service's clock: the connector renews and its links reconnect with the new certificate.
    const connectedBefore = linkConnections(connector);
    stack.clock.advance(31 * DAY_MS);
    await connector.waitFor(/certificate renewed; valid until \S+/);
    const renewed = keyOf(stateDir);
    assert.notEqual(renewed.keyPem, first.keyPem);
    assert.equal(describeKey(renewed.keyPem), 'ec prime256v1', 'a renewal keeps the key type');
    assert.equal(new X509Certificate(renewed.certPem).checkPrivateKey(createPrivateKey(renewed.keyPem)), true);

    // Past the grace period only the renewed certificate is accepted: requests still get through.
    await until(() => linkConnections(connector) > connectedBefore);
    stack.clock.advance(11 * 60 * 1000);
    await reachBackend('/ec-after-renewal');
    const seen = stack.backend.requests.map((request) => request.path);
    assert.ok(seen.includes('/ec-before-renewal') && seen.includes('/ec-after-renewal'), seen.join(', '));
    assert.equal(await connector.stop('SIGTERM'), 0);
  });

  it('still registers an RSA connector with --key-type rsa, and renews it as RSA', async () => {
    stack.clock.reset();
    const stateDir = join(root, 'rsa');
    const stdout = await register(stateDir, ['--key-type', 'rsa']);
    assert.match(stdout, /key:\s+RSA/);
    assert.equal(describeKey(keyOf(stateDir).keyPem), 'rsa 3072');
    const connector = startConnectorCli(['run', '--state-dir', stateDir, '--log-level', 'info']);
    running.push(connector);
    await connector.waitFor(/tunnel-1 link connected/);
    await reachBackend('/rsa-tunnel');
    stack.clock.advance(31 * DAY_MS);
    await connector.waitFor(/certificate renewed; valid until \S+/);
    assert.equal(describeKey(keyOf(stateDir).keyPem), 'rsa 3072');
    assert.equal(await connector.stop('SIGTERM'), 0);
  });

  it('refuses an unknown --key-type as a usage error', async () => {
    const result = await runConnectorCli(['register', '--service', stack.connectorUrl, '--state-dir', join(root, 'bad'), '--key-type', 'dsa']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--key-type must be ec or rsa/);
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exitOf, logLines, runConnectorCli, startConnectorCli, type CliResult } from '../../../dev/lib/connector-process.ts';
import { approveDeviceLogin } from '../../../dev/lib/device-approval.ts';
import type { RunningProcess } from '../../../dev/lib/processes.ts';
import { connectThroughProxy } from '../../../src/connector/outbound-proxy.ts';
import { parseProxyUrl } from '../../../src/connector/proxy-settings.ts';
import { isConnectorError } from '../../../src/errors/connector-error.ts';
import { startConnectProxy, type ConnectProxy } from '../../support/connect-proxy.ts';
import { startStack, type Stack } from '../../support/stack.ts';

/** A name only the proxy resolves: a connector that skips the proxy cannot reach the service. */
const SERVICE_HOST = 'gatehouse.internal';
const PROXY_USER = 'proxy-user';
// Characters that must be percent-encoded in a URL, to prove they are decoded.
const PROXY_PASSWORD = 'pr0xy s3cret@:/%';

describe('connector through an outbound HTTP CONNECT proxy, with no direct route to the service', function () {
  this.timeout(90_000);
  let stack: Stack;
  let proxy: ConnectProxy;
  let dir: string;
  let serviceUrl: string;
  let proxyWithCredentials: string;
  let count = 0;
  const running: RunningProcess[] = [];
  const outputs: string[] = [];

  // The child must not inherit a proxy from the developer's shell, nor a NO_PROXY that would bypass ours.
  const cleanProxyEnv = { HTTPS_PROXY: undefined, https_proxy: undefined, NO_PROXY: undefined, no_proxy: undefined };

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-connector-proxy-'));
    // The listener's certificate then names the host the connectors dial.
    stack = await startStack({
      connectors: true,
      configure: (config) => ({ ...config, connectors: { ...config.connectors!, publicUrl: `https://${SERVICE_HOST}` } }),
    });
    const port = new URL(stack.connectorUrl).port;
    serviceUrl = `https://${SERVICE_HOST}:${port}`;
    proxy = await startConnectProxy({ hosts: { [SERVICE_HOST]: '127.0.0.1' }, credentials: { user: PROXY_USER, password: PROXY_PASSWORD } });
    proxyWithCredentials = `http://${PROXY_USER}:${encodeURIComponent(PROXY_PASSWORD)}@127.0.0.1:${proxy.port}`;
  });

  after(async function () {
    for (const process of running) await process.stop('SIGKILL');
    await proxy?.close();
    await stack?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  afterEach(function () {
    // Whatever a test did, the proxy's credentials never reached any output.
    for (const process of running) outputs.push(process.stdout(), process.stderr());
    const encoded = encodeURIComponent(PROXY_PASSWORD);
    const basic = Buffer.from(`${PROXY_USER}:${PROXY_PASSWORD}`).toString('base64');
    for (const text of outputs) {
      for (const secret of [PROXY_PASSWORD, encoded, basic, 'pr0xy']) assert.ok(!text.includes(secret), `a credential leaked into output:\n${text}`);
    }
  });

  async function register(env: NodeJS.ProcessEnv, extra: string[] = [], url = serviceUrl): Promise<CliResult & { stateDir: string }> {
    count += 1;
    const stateDir = join(dir, `state-${count}`);
    const result = await runConnectorCli(['register', '--service', url, '--state-dir', stateDir, '--ca-file', stack.connectorCaFile, ...extra], {
      ...cleanProxyEnv,
      GATEHOUSE_CONNECTOR_TOKEN: await stack.adminToken('alice'),
      ...env,
    });
    outputs.push(result.stdout, result.stderr);
    return { ...result, stateDir };
  }

  async function reachBackendThroughTunnel(path: string): Promise<void> {
    const before = stack.backend.requests.length;
    const response = await stack.browser().request(`${stack.urls.open}${path}`, { headers: { accept: 'application/json' } });
    const text = await response.text();
    assert.equal(response.status, 200, text);
    assert.equal((JSON.parse(text) as { path: string }).path, path);
    assert.equal(stack.backend.requests.length, before + 1);
  }

  it('cannot reach the service directly: the name resolves only at the proxy', async function () {
    // --proxy none wins over HTTPS_PROXY: a direct dial, which fails.
    const direct = await register({ HTTPS_PROXY: proxyWithCredentials }, ['--proxy', 'none']);
    assert.equal(direct.code, 1, direct.stderr);
    assert.match(direct.stderr, /ERR_SERVICE_UNREACHABLE: .*its host name does not resolve/);
  });

  it('registers and runs through the proxy over the TLS transport (HTTPS_PROXY), mTLS end to end', async function () {
    const tunnelsBefore = proxy.tunnels;
    const registered = await register({ HTTPS_PROXY: proxyWithCredentials });
    assert.equal(registered.code, 0, registered.stderr);
    assert.match(registered.stderr, new RegExp(`through the outbound proxy http://\\*\\*\\*@127\\.0\\.0\\.1:${proxy.port} \\(from HTTPS_PROXY\\)`));
    assert.ok(proxy.tunnels > tunnelsBefore, 'the registration went through the proxy');

    const connector = startConnectorCli(['run', '--state-dir', registered.stateDir, '--tunnels', '2'], { ...cleanProxyEnv, https_proxy: proxyWithCredentials });
    running.push(connector);
    await connector.waitFor(/tunnel-1 link connected/);
    await connector.waitFor(/tunnel-2 link connected/);
    await reachBackendThroughTunnel('/through-the-proxy?transport=tls');

    // The service authenticated the connector by its client certificate: the TLS ran inside the tunnel, not at the proxy.
    const connectorId = /Registered connector (\S+)/.exec(registered.stdout)?.[1];
    assert.ok(stack.gateway.connectors!.tunnels.sessions().some((session) => session.connectorId === connectorId));
    assert.ok(
      proxy.targets.every((target) => target === `${SERVICE_HOST}:${new URL(serviceUrl).port}`),
      proxy.targets.join(', '),
    );
    assert.match(connector.stdout(), /"proxy":"http:\/\/\*\*\*@127\.0\.0\.1:\d+","proxySource":"environment"/);
    assert.equal(await connector.stop('SIGTERM'), 0);

    // status asks the service the same way.
    const status = await runConnectorCli(['status', '--state-dir', registered.stateDir], { ...cleanProxyEnv, HTTPS_PROXY: proxyWithCredentials });
    outputs.push(status.stdout, status.stderr);
    assert.equal(status.code, 0, status.stdout + status.stderr);
    assert.match(status.stdout, /reachable:\s+reachable, certificate accepted/);
  });

  it('runs over the WebSocket transport with --proxy, which wins over HTTPS_PROXY', async function () {
    const registered = await register({}, ['--proxy', proxyWithCredentials]);
    assert.equal(registered.code, 0, registered.stderr);
    const tunnelsBefore = proxy.tunnels;
    const connector = startConnectorCli(['run', '--state-dir', registered.stateDir, '--transport', 'websocket', '--proxy', proxyWithCredentials], {
      ...cleanProxyEnv,
      // Unreachable: if the environment won, nothing would connect.
      HTTPS_PROXY: 'http://127.0.0.1:1',
    });
    running.push(connector);
    await connector.waitFor(/tunnel-1 link connected/);
    await connector.waitFor(/tunnel-2 link connected/);
    await reachBackendThroughTunnel('/through-the-proxy?transport=websocket');
    assert.ok(proxy.tunnels >= tunnelsBefore + 3, 'the config pull, the events stream and both WebSocket tunnels each went through the proxy');
    assert.match(connector.stdout(), /"transport":"websocket"/);
    assert.equal(await connector.stop('SIGTERM'), 0);
  });

  it('signs in with the device flow through the proxy: the identity provider is reached through it too', async function () {
    const idpCaFile = join(dir, 'idp-ca.pem');
    writeFileSync(idpCaFile, stack.idp.caPem);
    const idpTarget = new URL(stack.idp.issuer).host;
    const stateDir = join(dir, 'device-login');
    const registering = startConnectorCli(
      ['register', '--service', serviceUrl, '--state-dir', stateDir, '--ca-file', stack.connectorCaFile, '--idp-ca-file', idpCaFile],
      { ...cleanProxyEnv, HTTPS_PROXY: proxyWithCredentials },
    );
    running.push(registering);
    const [, uri, code] = await registering.waitFor(/open (\S+) and enter code (\S+)/);
    const alice = stack.idp.users.find((user) => user.login === 'alice')!;
    await approveDeviceLogin(uri!, code!, alice.login, alice.password, stack.idp.caPem);
    assert.equal(await exitOf(registering), 0, registering.stderr());
    assert.match(registering.stdout(), /Registered connector /);
    assert.ok(proxy.targets.includes(idpTarget), `the identity provider's calls went through the proxy: ${proxy.targets.join(', ')}`);
  });

  it("reports a proxy failure on the way to the identity provider as the proxy's, not the provider's", async function () {
    const idpCaFile = join(dir, 'idp-ca.pem');
    writeFileSync(idpCaFile, stack.idp.caPem);
    const stateDir = join(dir, 'device-login-refused');
    // The service's port is bypassed, so only the identity provider's calls meet the proxy, which wants other credentials.
    const result = await runConnectorCli(
      ['register', '--service', stack.connectorUrl, '--state-dir', stateDir, '--ca-file', stack.connectorCaFile, '--idp-ca-file', idpCaFile],
      {
        ...cleanProxyEnv,
        HTTPS_PROXY: `http://${PROXY_USER}:wrong@127.0.0.1:${proxy.port}`,
        NO_PROXY: `127.0.0.1:${new URL(stack.connectorUrl).port}`,
      },
    );
    outputs.push(result.stdout, result.stderr);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /ERR_PROXY_AUTH_REQUIRED: The outbound proxy http:\/\/\*\*\*@127\.0\.0\.1:\d+ refused the credentials/);
  });

  it('logs a proxy failure during run with its code, retries, and still stops cleanly', async function () {
    const registered = await register({ HTTPS_PROXY: proxyWithCredentials });
    assert.equal(registered.code, 0, registered.stderr);
    const connector = startConnectorCli(['run', '--state-dir', registered.stateDir, '--tunnels', '1'], {
      ...cleanProxyEnv,
      HTTPS_PROXY: `http://${PROXY_USER}:${encodeURIComponent(PROXY_PASSWORD)}@127.0.0.1:1`,
    });
    running.push(connector);
    await connector.waitFor(/ERR_PROXY_UNREACHABLE[^\n]*\n[^]*ERR_PROXY_UNREACHABLE/);
    const logged = logLines(connector.stdout()).filter((line) => JSON.stringify(line).includes('ERR_PROXY_UNREACHABLE'));
    assert.ok(logged.length > 0, connector.stdout());
    assert.match(JSON.stringify(logged[0]), /The outbound proxy http:\/\/\*\*\*@127\.0\.0\.1:1 is unreachable/);
    assert.equal(await connector.stop('SIGTERM'), 0);
  });

  it('says clearly that the proxy wants credentials (407), and that it refused the ones given', async function () {
    const anonymous = await register({ HTTPS_PROXY: `http://127.0.0.1:${proxy.port}` });
    assert.equal(anonymous.code, 1);
    assert.match(
      anonymous.stderr,
      new RegExp(
        `gatehouse-connector: ERR_PROXY_AUTH_REQUIRED: The outbound proxy http://127\\.0\\.0\\.1:${proxy.port} requires authentication \\(407 Proxy Authentication Required\\)\\. Give the credentials in the proxy URL`,
      ),
    );
    const wrong = await register({}, ['--proxy', `http://${PROXY_USER}:not-the-password@127.0.0.1:${proxy.port}`]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /ERR_PROXY_AUTH_REQUIRED: The outbound proxy http:\/\/\*\*\*@127\.0\.0\.1:\d+ refused the credentials in its URL/);
    assert.doesNotMatch(wrong.stdout + wrong.stderr, /not-the-password/);
  });

  it('dials directly the hosts in NO_PROXY', async function () {
    const targetsBefore = proxy.targets.length;
    // The listener's own address, which this host reaches directly; the proxy is unreachable, so using it would fail.
    const registered = await register({ HTTPS_PROXY: 'http://127.0.0.1:1', NO_PROXY: 'localhost,127.0.0.0/8' }, [], stack.connectorUrl);
    assert.equal(registered.code, 0, registered.stderr);
    const suffix = await register({ HTTPS_PROXY: 'http://127.0.0.1:1', no_proxy: '.internal' });
    assert.equal(suffix.code, 1, 'a bypassed name is dialled directly, and only the proxy resolves it');
    assert.match(suffix.stderr, /ERR_SERVICE_UNREACHABLE: .*does not resolve/);
    assert.equal(proxy.targets.length, targetsBefore);
  });

  it('reports an unreachable proxy and a refused CONNECT with their own codes', async function () {
    const unreachable = await register({ HTTPS_PROXY: 'http://alice:hunter2@127.0.0.1:1' });
    assert.equal(unreachable.code, 1);
    assert.match(
      unreachable.stderr,
      /ERR_PROXY_UNREACHABLE: The outbound proxy http:\/\/\*\*\*@127\.0\.0\.1:1 is unreachable: the connection failed \(ECONNREFUSED\)/,
    );
    assert.doesNotMatch(unreachable.stderr, /hunter2/);

    const refusing = await startConnectProxy({ refuseWith: 403 });
    try {
      const error = await connectThroughProxy(parseProxyUrl(refusing.url, '--proxy'), { host: SERVICE_HOST, port: 8444 }).then(
        () => assert.fail('the proxy refused'),
        (failure: unknown) => failure,
      );
      assert.ok(isConnectorError(error));
      assert.equal(error.code, 'ERR_PROXY_REFUSED');
      assert.equal(error.retryable, false);
      assert.match(error.message, /refused to open a tunnel to gatehouse\.internal:8444: HTTP 403 Forbidden by policy/);
      assert.deepEqual(refusing.targets, [`${SERVICE_HOST}:8444`]);
    } finally {
      await refusing.close();
    }
  });

  it('goes through an https:// proxy: TLS to the proxy, then CONNECT, then the service TLS inside', async function () {
    const certificate = stack.ca.issueServerCertificate(['localhost']);
    const tlsProxy = await startConnectProxy({
      hosts: { [SERVICE_HOST]: '127.0.0.1' },
      tls: { cert: certificate.certPem, key: certificate.keyPem },
      credentials: { user: PROXY_USER, password: PROXY_PASSWORD },
    });
    const caFile = join(dir, 'proxy-ca.pem');
    writeFileSync(caFile, stack.ca.certPem);
    try {
      const registered = await register({
        HTTPS_PROXY: `https://${PROXY_USER}:${encodeURIComponent(PROXY_PASSWORD)}@localhost:${tlsProxy.port}`,
        // A proxy with a private CA is trusted the Node way.
        NODE_EXTRA_CA_CERTS: caFile,
      });
      assert.equal(registered.code, 0, registered.stderr);
      assert.ok(tlsProxy.tunnels >= 1);
    } finally {
      await tlsProxy.close();
    }
  });
});

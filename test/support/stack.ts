import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { memorySink, type MemorySink } from '../../src/audit/audit-log.ts';
import type { GatewayConfigInput } from '../../src/config/schema.ts';
import { createGateway, type Gateway, type GatewayOptions } from '../../src/gateway/create-gateway.ts';
import { MAX_REQUEST_HEADER_BYTES } from '../../src/limits.ts';
import {
  DEFAULT_DEV_USERS,
  startIdentityProvider,
  type DevClient,
  type DevIdentityProvider,
  type DevResourceServer,
  type StartIdentityProviderOptions,
  type DevUser,
} from '../../dev/lib/identity-provider/index.ts';
import { createDevCa, type DevCa } from '../../dev/lib/dev-ca.ts';
import { startEchoBackend, type EchoBackend } from './backend.ts';
import { BrowserClient, createCaFetch } from '../../dev/lib/browser-client.ts';
import { adminTokens, CONNECTOR_RESOURCE_SERVER, CONNECTOR_SCOPE, DEVICE_CLIENT } from '../../dev/lib/device-approval.ts';
import { createTestClock, type TestClock } from './clock.ts';
import { noteConfigSecrets, scannedLogger, watchForSecrets } from './log-scan.ts';

export const SECRET_1 = 'test-session-secret-number-one-0123456789abcdef';
export const SECRET_2 = 'test-session-secret-number-two-0123456789abcdef';

export interface StackOptions {
  /** Adjusts the gateway configuration before it is built. */
  readonly configure?: (config: GatewayConfigInput) => GatewayConfigInput;
  readonly gatewayOptions?: Omit<GatewayOptions, 'clock' | 'audit'> | ((idp: DevIdentityProvider) => Omit<GatewayOptions, 'clock' | 'audit'>);
  readonly users?: DevUser[];
  readonly idTokenTtlSeconds?: number;
  /** The identity provider issues refresh tokens at sign-in (for session.refresh). */
  readonly refreshTokens?: boolean;
  /** The identity provider rotates refresh tokens: each is good for one refresh, and one sent twice revokes the grant. */
  readonly rotateRefreshTokens?: boolean;
  /**
   * Forward through connectors: the gateway gets a connector listener on
   * 127.0.0.1:0 (stack.connectorUrl) and apps are reached through tunnels.
   */
  readonly connectors?: boolean;
  /** Registers the gateway's back-channel logout endpoint at the identity provider, which then calls it (trusting the test CA). */
  readonly backchannelLogout?: boolean;
  /** More clients at the identity provider (API callers: client credentials, device flow). */
  readonly idpClients?: DevClient[];
  /** More redirect URIs of the gateway's client (e.g. the admin console's callback on an admin listener). */
  readonly redirectUris?: readonly string[];
  /** More APIs the identity provider issues JWT access tokens for, by resource indicator. */
  readonly resourceServers?: Record<string, DevResourceServer>;
  /** Token shapes of a particular provider (extra claims, a different or missing `groups`), and the extra authorization parameters it reads; default: the plain shapes. */
  readonly idpClaims?: Pick<StartIdentityProviderOptions, 'extraClaims' | 'groupsClaim' | 'acr' | 'extraParams'>;
}

export interface Stack {
  readonly ca: DevCa;
  readonly idp: DevIdentityProvider;
  readonly backend: EchoBackend;
  readonly audit: MemorySink;
  readonly clock: TestClock;
  readonly port: number;
  /** External origins of the published apps: wiki and other (pre-auth), open (pass-through). */
  readonly urls: {
    readonly wiki: string;
    readonly other: string;
    readonly open: string;
    readonly unknown: string;
    /** Pass-through apps whose internal URL refuses connections, and whose backend timeout is 1 s. */
    readonly dead: string;
    readonly slow: string;
  };
  readonly config: GatewayConfigInput;
  /** With `connectors`: where connectors dial, and the PEM file that makes them trust it. */
  readonly connectorUrl: string;
  readonly connectorCaFile: string;
  /** A real admin access token from the identity provider's device flow. */
  adminToken(user?: string): Promise<string>;
  gateway: Gateway;
  browser(options?: { extraHeaders?: Record<string, string> }): BrowserClient;
  /** Rebuilds the gateway on the same port with a new configuration (e.g. rotated secrets). */
  rebuild(configure: (config: GatewayConfigInput) => GatewayConfigInput): void;
  /** Stops the gateway (connector listener included) and starts a new one from the same configuration and state. */
  restartGateway(): Promise<void>;
  close(): Promise<void>;
}

const CLIENT_ID = 'gatehouse-test';
const CLIENT_SECRET = 'gatehouse-test-client-secret';

/**
 * The whole cloud side on loopback, made of real parts: an oidc-provider
 * identity provider over TLS, the gateway on an HTTPS server with a
 * certificate from a throwaway CA, and a plain HTTP backend.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const ca = createDevCa({ commonName: 'Gatehouse test CA' });
  const hosts = ['wiki.gatehouse.test', 'other.gatehouse.test', 'open.gatehouse.test', 'unknown.gatehouse.test', 'dead.gatehouse.test', 'slow.gatehouse.test'];
  const certificate = ca.issueServerCertificate(hosts);
  const server: Server = createServer({ cert: certificate.certPem, key: certificate.keyPem, maxHeaderSize: MAX_REQUEST_HEADER_BYTES });
  watchForSecrets(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const urls = {
    wiki: `https://wiki.gatehouse.test:${port}`,
    other: `https://other.gatehouse.test:${port}`,
    open: `https://open.gatehouse.test:${port}`,
    unknown: `https://unknown.gatehouse.test:${port}`,
    dead: `https://dead.gatehouse.test:${port}`,
    slow: `https://slow.gatehouse.test:${port}`,
  };
  const backend = await startEchoBackend();
  const idp = await startIdentityProvider({
    ca,
    users: options.users ?? DEFAULT_DEV_USERS,
    ...(options.idTokenTtlSeconds !== undefined ? { idTokenTtlSeconds: options.idTokenTtlSeconds } : {}),
    ...(options.refreshTokens ? { refreshTokens: true } : {}),
    ...(options.rotateRefreshTokens ? { rotateRefreshTokens: true } : {}),
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: [`${urls.wiki}/.gatehouse/callback`, `${urls.other}/.gatehouse/callback`, ...(options.redirectUris ?? [])],
        post_logout_redirect_uris: [`${urls.wiki}/.gatehouse/signed-out`, `${urls.other}/.gatehouse/signed-out`],
        ...(options.backchannelLogout ? { backchannel_logout_uri: `${urls.wiki}/.gatehouse/backchannel-logout` } : {}),
      },
      DEVICE_CLIENT,
      ...(options.idpClients ?? []),
    ],
    resourceServers: { ...CONNECTOR_RESOURCE_SERVER, ...options.resourceServers },
    ...(options.backchannelLogout ? { clientCallbackCa: ca.certPem } : {}),
    ...options.idpClaims,
  });
  const workDir = mkdtempSync(join(tmpdir(), 'gatehouse-stack-'));
  const audit = memorySink();
  const clock = createTestClock();

  const base: GatewayConfigInput = {
    identityProvider: {
      issuer: idp.issuer,
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      ca: idp.caPem,
      scopes: ['openid', 'profile', 'email', 'groups'],
      clockToleranceSeconds: 5,
    },
    session: { secrets: [{ id: 1, secret: SECRET_1 }] },
    // Every test's traffic comes from one loopback address, far above what one client may send: the rate-limit tests set their own.
    limits: { rate: { anonymous: false, signin: false, callback: false, backchannelLogout: false, connectorRegister: false, connectorAdmin: false } },
    apps: [
      { id: 'wiki', externalUrl: urls.wiki, internalUrl: backend.url },
      { id: 'other', externalUrl: urls.other, internalUrl: backend.url },
      { id: 'open', externalUrl: urls.open, internalUrl: backend.url, preauth: 'passthrough' },
      { id: 'dead', externalUrl: urls.dead, internalUrl: 'http://127.0.0.1:1', preauth: 'passthrough' },
      { id: 'slow', externalUrl: urls.slow, internalUrl: backend.url, preauth: 'passthrough', timeouts: { backend: '1s' } },
    ],
    ...(options.connectors
      ? {
          connectors: {
            listen: { host: '127.0.0.1', port: 0 },
            stateDir: join(workDir, 'service-state'),
            heartbeatInterval: '1s',
            admin: { scope: CONNECTOR_SCOPE },
          },
        }
      : {}),
  };
  const config = options.configure ? options.configure(base) : base;

  const gatewayOptions = typeof options.gatewayOptions === 'function' ? options.gatewayOptions(idp) : options.gatewayOptions;
  let current: { gateway: Gateway; listener: express.Express; detach: () => void } | undefined;
  const build = (input: GatewayConfigInput): void => {
    if (current) {
      server.off('request', current.listener);
      current.detach();
      void current.gateway.close();
    }
    noteConfigSecrets(input);
    const gateway = createGateway(input, { ...scannedLogger(), ...gatewayOptions, clock, audit });
    const listener = express();
    listener.disable('x-powered-by');
    listener.use(gateway.handler);
    server.on('request', listener);
    current = { gateway, listener, detach: gateway.attach(server) };
  };
  build(config);
  await current!.gateway.ready();
  let connectorUrl = '';
  const connectorCaFile = join(workDir, 'connector-listener-ca.pem');
  const connectorService = current!.gateway.connectors;
  if (connectorService) {
    const address = await connectorService.listen(0, '127.0.0.1');
    connectorUrl = `https://127.0.0.1:${address.port}`;
    writeFileSync(connectorCaFile, connectorService.ca.certPem);
  }
  const tokens = await adminTokens(idp.issuer, idp.caPem);

  const browsers: BrowserClient[] = [];
  return {
    ca,
    idp,
    backend,
    audit,
    clock,
    port,
    urls,
    config,
    connectorUrl,
    connectorCaFile,
    adminToken: (user = 'alice') => tokens.get(user, idp.users.find((candidate) => candidate.login === user)?.password ?? ''),
    get gateway() {
      return current!.gateway;
    },
    browser(options = {}) {
      const browser = new BrowserClient({ ca: [ca.certPem, idp.caPem], ...options });
      browsers.push(browser);
      return browser;
    },
    rebuild(configure) {
      build(configure(config));
    },
    async restartGateway() {
      const old = current!;
      server.off('request', old.listener);
      old.detach();
      await old.gateway.close();
      current = undefined;
      build(config);
      await current!.gateway.ready();
      if (connectorUrl) await current!.gateway.connectors!.listen(Number(new URL(connectorUrl).port), '127.0.0.1');
    },
    async close() {
      await Promise.all(browsers.map((browser) => browser.close()));
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await current?.gateway.close();
      await tokens.close();
      await idp.close();
      await backend.close();
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

export async function signIn(
  stack: Stack,
  browser: BrowserClient,
  user = 'alice',
  path = '/',
  options: { stopAt?: (url: URL) => boolean } = {},
): Promise<Awaited<ReturnType<BrowserClient['signIn']>>> {
  const found = stack.idp.users.find((u) => u.login === user) ?? DEFAULT_DEV_USERS.find((u) => u.login === user);
  if (!found) throw new Error(`no test user ${user}`);
  return browser.signIn(`${stack.urls.wiki}${path}`, found.login, found.password, options);
}

/** Revokes a refresh token at the stack's identity provider (RFC 7009), as the gateway's client would. */
export async function revokeRefreshToken(stack: Pick<Stack, 'idp'>, token: string): Promise<void> {
  const caFetch = createCaFetch({ ca: stack.idp.caPem });
  try {
    const revoked = await caFetch.fetch(`${stack.idp.issuer}/token/revocation`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`,
      },
      body: new URLSearchParams({ token, token_type_hint: 'refresh_token' }).toString(),
    });
    assert.equal(revoked.status, 200);
  } finally {
    await caFetch.close();
  }
}

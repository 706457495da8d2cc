/**
 * The cloud side the benchmark measures, built in this process from the
 * parts a deployment uses: a throwaway CA, the development identity
 * provider, the gateway on an HTTPS server and, when asked, its connector
 * listener. Audit events go to a bounded in-memory sink, so that writing
 * them costs what the gateway's own work costs and no more.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { memorySink } from '../../src/audit/audit-log.ts';
import type { GatewayConfigInput } from '../../src/config/schema.ts';
import { defaultStoreUrl } from '../../src/config/store-schema.ts';
import { createGateway, type Gateway } from '../../src/gateway/create-gateway.ts';
import { openSessionStore, type OpenedSessionStore } from '../../src/session/open-session-store.ts';
import { RedisSessionStore } from '../../src/session/redis-session-store.ts';
import type { SessionStore } from '../../src/session/session-store.ts';
import { MAX_REQUEST_HEADER_BYTES } from '../../src/limits.ts';
import { BrowserClient } from '../../dev/lib/browser-client.ts';
import { createDevCa, type DevCa } from '../../dev/lib/dev-ca.ts';
import { adminTokens, CONNECTOR_RESOURCE_SERVER, CONNECTOR_SCOPE, DEVICE_CLIENT } from '../../dev/lib/device-approval.ts';
import { startIdentityProvider } from '../../dev/lib/identity-provider/index.ts';

export interface CloudOptions {
  /** The internal URL of every app: the bench backend. */
  readonly backend: string;
  /** Forward through connectors: a connector listener on 127.0.0.1:0. */
  readonly connectors: boolean;
  /** Adds unknown.gatehouse.test, a pass-through app of connector group "ws". */
  readonly wsGroup: boolean;
  /**
   * `store.url` (e.g. redis://127.0.0.1:6379): the gateway opens it itself, as
   * a deployment does, so that the connector plane, the audit log and the risk
   * counts share its connection. Default: the store the gateway would open
   * without one (the state database with connectors, else memory).
   */
  readonly storeUrl?: string;
}

export interface Cloud {
  readonly ca: DevCa;
  readonly port: number;
  readonly urls: { readonly wiki: string; readonly open: string; readonly unknown: string };
  readonly connectorUrl: string;
  readonly connectorCaFile: string;
  readonly gateway: Gateway;
  /** A browser that trusts the gateway and the identity provider; close it after use. */
  browser(): BrowserClient;
  password(login: string): string;
  adminToken(login: string): Promise<string>;
  /** Calls made to the session store so far (revocation checks, server-side data, sign-in states): what a request costs the store. */
  storeOps(): number;
  close(): Promise<void>;
}

const CLIENT_ID = 'gatehouse-bench';
const CLIENT_SECRET = 'gatehouse-bench-client-secret';

export async function startCloud(options: CloudOptions): Promise<Cloud> {
  const ca = createDevCa({ commonName: 'Gatehouse bench CA' });
  const hosts = ['wiki.gatehouse.test', 'open.gatehouse.test', 'unknown.gatehouse.test'];
  const certificate = ca.issueServerCertificate(hosts);
  const server = createServer({ cert: certificate.certPem, key: certificate.keyPem, maxHeaderSize: MAX_REQUEST_HEADER_BYTES });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const urls = { wiki: `https://wiki.gatehouse.test:${port}`, open: `https://open.gatehouse.test:${port}`, unknown: `https://unknown.gatehouse.test:${port}` };
  const idp = await startIdentityProvider({
    ca,
    clients: [
      { client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uris: [`${urls.wiki}/.gatehouse/callback`], post_logout_redirect_uris: [] },
      DEVICE_CLIENT,
    ],
    resourceServers: CONNECTOR_RESOURCE_SERVER,
  });
  const workDir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-cloud-'));
  const apps: GatewayConfigInput['apps'] = [
    { id: 'wiki', externalUrl: urls.wiki, internalUrl: options.backend },
    { id: 'open', externalUrl: urls.open, internalUrl: options.backend, preauth: 'passthrough' },
  ];
  let storeOps = 0;
  const count = (): void => void (storeOps += 1);
  let opened: OpenedSessionStore | undefined;
  let counted: SessionStore | undefined;
  if (options.storeUrl === undefined) {
    // The store the gateway would open itself (the state database with connectors, else memory), with every call counted.
    opened = openSessionStore(defaultStoreUrl(options.connectors ? join(workDir, 'service-state') : undefined), {});
    await opened.ready();
    counted = new Proxy(opened.store, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          count();
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  } else if (options.storeUrl.startsWith('redis')) {
    // The gateway builds its Redis session store itself: its calls are counted on the class, in this process only.
    countCalls(RedisSessionStore.prototype, ['revoke', 'isRevoked', 'consumeState', 'putSideData', 'getSideData'], count);
  }
  if (options.wsGroup) apps.push({ id: 'openws', externalUrl: urls.unknown, internalUrl: options.backend, preauth: 'passthrough', connectorGroup: 'ws' });
  const gateway = createGateway(
    {
      identityProvider: {
        issuer: idp.issuer,
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        ca: idp.caPem,
        scopes: ['openid', 'profile', 'email', 'groups'],
        clockToleranceSeconds: 5,
      },
      session: { secrets: [{ id: 1, secret: 'bench-session-secret-number-one-0123456789abcdef' }] },
      apps,
      // The load comes from one address, far above any per-address limit: throughput is measured, not throttling.
      limits: { rate: { anonymous: false }, connections: { perIp: 0 } },
      ...(options.connectors
        ? {
            connectors: {
              listen: { host: '127.0.0.1', port: 0 },
              stateDir: join(workDir, 'service-state'),
              heartbeatInterval: '1s',
              admin: { scope: CONNECTOR_SCOPE },
              // What a deployment on a shared store sets: the CA's private key is kept encrypted there.
              ...(options.storeUrl !== undefined ? { caKey: randomBytes(32).toString('base64') } : {}),
            },
          }
        : {}),
      ...(options.storeUrl !== undefined ? { store: { url: options.storeUrl } } : {}),
    },
    { audit: memorySink(), ...(counted ? { sessionStore: counted } : {}) },
  );
  const listener = express();
  listener.disable('x-powered-by');
  listener.use(gateway.handler);
  server.on('request', listener);
  const detach = gateway.attach(server);
  await gateway.ready();
  let connectorUrl = '';
  const connectorCaFile = join(workDir, 'connector-listener-ca.pem');
  if (gateway.connectors) {
    const address = await gateway.connectors.listen(0, '127.0.0.1');
    connectorUrl = `https://127.0.0.1:${address.port}`;
    writeFileSync(connectorCaFile, gateway.connectors.ca.certPem);
  }
  const tokens = await adminTokens(idp.issuer, idp.caPem);
  const password = (login: string): string => idp.users.find((user) => user.login === login)?.password ?? '';
  return {
    ca,
    port,
    urls,
    connectorUrl,
    connectorCaFile,
    gateway,
    browser: () => new BrowserClient({ ca: [ca.certPem, idp.caPem] }),
    password,
    adminToken: (login) => tokens.get(login, password(login)),
    storeOps: () => storeOps,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      detach();
      await gateway.close();
      await opened?.close();
      await tokens.close();
      await idp.close();
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

/** Counts every call of the named methods of a class, on its prototype. */
function countCalls(prototype: object, names: readonly string[], count: () => void): void {
  for (const name of names) {
    const method = Reflect.get(prototype, name) as (...args: unknown[]) => unknown;
    Reflect.set(prototype, name, function (this: unknown, ...args: unknown[]) {
      count();
      return method.apply(this, args);
    });
  }
}

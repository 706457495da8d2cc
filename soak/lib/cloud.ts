/**
 * The soak's cloud side. The gateway runs in this process (so that its
 * tunnel pool, its servers and this process's active resources can be
 * counted directly, and a full GC forced), on an HTTPS server with a
 * certificate from a throwaway CA, its state in a real redis-server with
 * append-only persistence; the development identity provider runs here too,
 * on a fixed port with a fixed signing key, so that it can be closed and
 * started again as the same provider.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import type { AuditEvent, AuditSink } from '../../src/audit/events.ts';
import { createGateway, type Gateway } from '../../src/gateway/create-gateway.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { createWriteStream } from 'node:fs';
import { MAX_REQUEST_HEADER_BYTES } from '../../src/limits.ts';
import { BrowserClient } from '../../dev/lib/browser-client.ts';
import { createDevCa, type DevCa } from '../../dev/lib/dev-ca.ts';
import { adminTokens, CONNECTOR_RESOURCE_SERVER, CONNECTOR_SCOPE, DEVICE_CLIENT } from '../../dev/lib/device-approval.ts';
import { DEFAULT_DEV_USERS, startIdentityProvider, type DevIdentityProvider } from '../../dev/lib/identity-provider/index.ts';
import { CONNECTOR_GROUP } from './connectors.ts';
import { freePort } from '../../test/support/free-port.ts';

const CLIENT_ID = 'gatehouse-soak';
const CLIENT_SECRET = 'gatehouse-soak-client-secret';
export const HOST = 'wiki.gatehouse.test';

/** Audit events counted by type; connector events and sign-outs kept whole (few), so memory stays flat. */
export interface CountingAudit extends AuditSink {
  readonly counts: Map<string, number>;
  readonly kept: AuditEvent[];
}

function countingAudit(): CountingAudit {
  const counts = new Map<string, number>();
  const kept: AuditEvent[] = [];
  return {
    counts,
    kept,
    write(event) {
      counts.set(event.type, (counts.get(event.type) ?? 0) + 1);
      if (event.type.startsWith('connector.') || event.type === 'idp.unavailable') kept.push(event);
    },
  };
}

export interface Cloud {
  readonly ca: DevCa;
  readonly server: Server;
  readonly port: number;
  /** https://wiki.gatehouse.test:PORT */
  readonly origin: string;
  readonly gateway: Gateway;
  readonly audit: CountingAudit;
  readonly connectorUrl: string;
  readonly connectorCaFile: string;
  adminToken(): Promise<string>;
  /** Signs alice in through the real provider; returns the Cookie header for the app. */
  signIn(): Promise<string>;
  /** Signs out the session behind `cookie` (the real logout path). */
  signOut(cookie: string): Promise<void>;
  idpDown(): Promise<void>;
  idpUp(): Promise<void>;
  close(): Promise<void>;
}

export async function startCloud(options: { readonly backendUrl: string; readonly redisUrl: string }): Promise<Cloud> {
  const ca = createDevCa({ commonName: 'Gatehouse soak CA' });
  const certificate = ca.issueServerCertificate([HOST]);
  const server = createServer({ cert: certificate.certPem, key: certificate.keyPem, maxHeaderSize: MAX_REQUEST_HEADER_BYTES });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `https://${HOST}:${port}`;
  const idpPort = await freePort();
  const idpOptions = {
    ca,
    port: idpPort,
    host: '127.0.0.1',
    clients: [
      { client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uris: [`${origin}/.gatehouse/callback`], post_logout_redirect_uris: [] },
      DEVICE_CLIENT,
    ],
    resourceServers: CONNECTOR_RESOURCE_SERVER,
  };
  let idp: DevIdentityProvider | undefined = await startIdentityProvider(idpOptions);
  const signingKey = idp.signingKey;
  const { issuer, caPem } = idp;
  const workDir = mkdtempSync(join(tmpdir(), 'gatehouse-soak-cloud-'));
  const audit = countingAudit();
  const gateway = createGateway(
    {
      identityProvider: {
        issuer,
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        ca: caPem,
        scopes: ['openid', 'profile', 'email', 'groups'],
        clockToleranceSeconds: 5,
      },
      session: { secrets: [{ id: 1, secret: 'soak-session-secret-number-one-0123456789abcdef' }] },
      apps: [{ id: 'wiki', externalUrl: origin, internalUrl: options.backendUrl, connectorGroup: CONNECTOR_GROUP }],
      connectors: {
        listen: { host: '127.0.0.1', port: 0 },
        stateDir: join(workDir, 'service-state'),
        heartbeatInterval: '1s',
        admin: { scope: CONNECTOR_SCOPE },
        caKey: randomBytes(32).toString('base64'),
      },
      store: { url: options.redisUrl },
    },
    {
      audit,
      // SOAK_GATEWAY_LOG=FILE keeps the gateway's debug log, to chase a finding.
      ...(process.env['SOAK_GATEWAY_LOG'] ? { logger: createLogger({ level: 'debug', destination: createWriteStream(process.env['SOAK_GATEWAY_LOG']) }) } : {}),
    },
  );
  const listener = express();
  listener.disable('x-powered-by');
  listener.use(gateway.handler);
  server.on('request', listener);
  const detach = gateway.attach(server);
  await gateway.ready();
  const connectors = gateway.connectors!;
  const address = await connectors.listen(0, '127.0.0.1');
  const connectorUrl = `https://127.0.0.1:${address.port}`;
  const connectorCaFile = join(workDir, 'connector-listener-ca.pem');
  writeFileSync(connectorCaFile, connectors.ca.certPem);
  const tokens = await adminTokens(issuer, caPem);
  const alice = DEFAULT_DEV_USERS.find((user) => user.login === 'alice')!;
  const browser = (): BrowserClient => new BrowserClient({ ca: [ca.certPem, caPem] });

  return {
    ca,
    server,
    port,
    origin,
    gateway,
    audit,
    connectorUrl,
    connectorCaFile,
    adminToken: () => tokens.get('alice', alice.password),
    async signIn() {
      const client = browser();
      try {
        const { response } = await client.signIn(`${origin}/api/item/0`, alice.login, alice.password);
        if (response.status !== 200) throw new Error(`sign-in ended with ${response.status}`);
        return client.jar.getCookieStringSync(`${origin}/`);
      } finally {
        await client.close();
      }
    },
    async signOut(cookie) {
      const client = new BrowserClient({ ca: [ca.certPem, caPem], extraHeaders: { cookie } });
      try {
        await client.navigate(`${origin}/.gatehouse/logout`, { stopAt: (url) => url.origin === issuer });
      } finally {
        await client.close();
      }
    },
    async idpDown() {
      const current = idp;
      idp = undefined;
      await current?.close();
    },
    async idpUp() {
      idp ??= await startIdentityProvider({ ...idpOptions, signingKey });
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      detach();
      await gateway.close();
      await tokens.close();
      await idp?.close();
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

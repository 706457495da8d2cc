import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memorySink, type MemorySink } from '../../src/audit/audit-log.ts';
import type { GatewayConfigInput } from '../../src/config/schema.ts';
import { createGateway, type Gateway } from '../../src/gateway/create-gateway.ts';
import type { ConnectorService } from '../../src/connector-plane/connector-service.ts';
import { startIdentityProvider, type DevIdentityProvider } from '../../dev/lib/identity-provider/index.ts';
import { createDevCa } from '../../dev/lib/dev-ca.ts';
import { adminTokens, approveDeviceLogin, CONNECTOR_RESOURCE_SERVER, CONNECTOR_SCOPE, DEVICE_CLIENT } from '../../dev/lib/device-approval.ts';
import { createTestClock, type TestClock } from './clock.ts';

export interface ConnectorServiceOptions {
  /** Overrides merged into the `connectors` section (durations as strings or seconds). */
  readonly connectors?: Partial<NonNullable<GatewayConfigInput['connectors']>>;
  /** The identity provider issues opaque admin access tokens and answers token introspection (default: JWTs, no introspection). */
  readonly opaqueAdminTokens?: boolean;
}

export interface ConnectorServiceHarness {
  /** Where connectors dial: https://127.0.0.1:PORT */
  readonly serviceUrl: string;
  /** PEM file that makes a connector trust the service's (development) listener certificate. */
  readonly caFile: string;
  /** PEM file that makes a connector trust the identity provider. */
  readonly idpCaFile: string;
  readonly idp: DevIdentityProvider;
  readonly gateway: Gateway;
  readonly service: ConnectorService;
  readonly audit: MemorySink;
  readonly clock: TestClock;
  readonly stateDir: string;
  /** A real JWT access token for `user`, from the identity provider's device flow. alice is an admin, bob is not. */
  adminToken(user?: string, password?: string): Promise<string>;
  /** Completes a device-flow user step the way a person would: open the URL, enter the code, sign in. */
  approveDevice(verificationUri: string, userCode: string, user?: string, password?: string): Promise<void>;
  revoke(connectorId: string): Promise<void>;
  moveGroup(connectorId: string, group: string): Promise<void>;
  bumpConfig(): Promise<number>;
  close(): Promise<void>;
}

/**
 * The service side of the connector's life, for tests: the real identity
 * provider (with the connector CLI's device-flow client and the registration
 * API as a resource), and a gateway whose connector listener is on
 * 127.0.0.1:0, with a controllable clock and an in-memory audit sink.
 */
export async function startConnectorService(options: ConnectorServiceOptions = {}): Promise<ConnectorServiceHarness> {
  const ca = createDevCa({ commonName: 'Gatehouse connector test CA' });
  const idp = await startIdentityProvider({
    ca,
    clients: [
      { client_id: 'gatehouse-gateway', client_secret: 'gatehouse-gateway-secret', redirect_uris: ['https://wiki.gatehouse.test/.gatehouse/callback'] },
      DEVICE_CLIENT,
    ],
    resourceServers: options.opaqueAdminTokens
      ? Object.fromEntries(
          Object.entries(CONNECTOR_RESOURCE_SERVER).map(([indicator, server]) => [indicator, { ...server, accessTokenFormat: 'opaque' as const }]),
        )
      : CONNECTOR_RESOURCE_SERVER,
    introspection: options.opaqueAdminTokens === true,
  });
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-connector-service-'));
  const stateDir = join(dir, 'state');
  const audit = memorySink();
  const clock = createTestClock();
  const gateway = createGateway(
    {
      identityProvider: { issuer: idp.issuer, clientId: 'gatehouse-gateway', clientSecret: 'gatehouse-gateway-secret', ca: idp.caPem },
      session: { secrets: [{ id: 1, secret: 'connector-harness-session-secret-0123456789' }] },
      apps: [
        { id: 'wiki', externalUrl: 'https://wiki.gatehouse.test', internalUrl: 'http://10.20.0.5:8080' },
        { id: 'hr', externalUrl: 'https://hr.gatehouse.test', internalUrl: 'http://10.30.0.7:9000', connectorGroup: 'hr' },
      ],
      connectors: {
        listen: { host: '127.0.0.1', port: 0 },
        stateDir,
        heartbeatInterval: '1s',
        admin: { scope: CONNECTOR_SCOPE },
        ...options.connectors,
      },
    },
    { clock, audit },
  );
  await gateway.ready();
  const service = gateway.connectors!;
  const address = await service.listen(0, '127.0.0.1');
  const caFile = join(dir, 'service-ca.pem');
  writeFileSync(caFile, service.ca.certPem);
  const idpCaFile = join(dir, 'idp-ca.pem');
  writeFileSync(idpCaFile, idp.caPem);

  const tokens = await adminTokens(idp.issuer, idp.caPem);
  const passwords: Record<string, string> = Object.fromEntries(idp.users.map((user) => [user.login, user.password]));
  const approveDevice = (verificationUri: string, userCode: string, user = 'alice', password?: string): Promise<void> =>
    approveDeviceLogin(verificationUri, userCode, user, password ?? passwords[user] ?? '', idp.caPem);

  return {
    serviceUrl: `https://127.0.0.1:${address.port}`,
    caFile,
    idpCaFile,
    idp,
    gateway,
    service,
    audit,
    clock,
    stateDir,
    approveDevice,
    adminToken: (user = 'alice', password) => tokens.get(user, password ?? passwords[user] ?? ''),
    async revoke(connectorId) {
      await service.revoke(connectorId, undefined);
    },
    async moveGroup(connectorId, group) {
      await service.moveGroup(connectorId, group, undefined);
    },
    bumpConfig: () => service.bumpVersion('test'),
    async close() {
      await gateway.close();
      await tokens.close();
      await idp.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * `gatehouse-connector register`: gets an admin token (given, or by device
 * login), makes a key and a certificate request, posts the request, and keeps
 * what the service returns in the state directory. The private key never
 * leaves this host; the token is used once and never stored.
 */
import { hostname } from 'node:os';
import { rootCertificates } from 'node:tls';
import type { Logger } from '../logging/logger.ts';
import { createKeyAndCsr } from '../pki/csr.ts';
import { CONNECTOR_KEY_TYPES, DEFAULT_CONNECTOR_KEY_TYPE, type ConnectorKeyType } from '../pki/keys.ts';
import { parseAllowOption } from './allow-list.ts';
import { obtainAdminTokenByDeviceLogin } from './device-login.ts';
import type { StatusStream } from './countdown-line.ts';
import { ConnectorArgumentError, ConnectorError } from '../errors/connector-error.ts';
import { checkIssued } from './issued-certificate.ts';
import { certificateFingerprint256 } from '../pki/fingerprint.ts';
import { readCaFile } from './ca-file.ts';
import { REGISTER_PATH } from '../protocol/connector-api.ts';
import type { OutboundProxySettings } from './proxy-settings.ts';
import { ServiceClient, parseServiceUrl } from './service-client.ts';
import {
  ensureStateDir,
  hasRegistration,
  readAllowList,
  removeRecord,
  removeStaleTempFiles,
  writeAllowList,
  writeCaChain,
  writeIdentity,
  writeRecord,
  writeServiceCa,
} from './state.ts';

/** Options of `registerConnector()` (the flags of `gatehouse-connector register`). */
export interface RegisterOptions {
  /** The service's connector listener, e.g. "https://gatehouse.example.com:8444". */
  readonly serviceUrl: string;
  /** An admin access token; without one, the device flow runs. */
  readonly token?: string;
  readonly stateDir: string;
  /** PEM CA bundle for the service's TLS certificate (else the system roots); kept as service-ca.crt. */
  readonly caFile?: string;
  /** PEM CA bundle for the identity provider (else the --ca-file bundle plus the system roots). */
  readonly idpCaFile?: string;
  /** Connector group; the service's default when absent. */
  readonly group?: string;
  /** A label for administrators; default: this host's name. */
  readonly name?: string;
  /** Replace an existing registration. */
  readonly force?: boolean;
  readonly log?: Logger;
  /** Short lines for the person at the terminal (device-flow instructions). */
  readonly progress?: (line: string) => void;
  /** The terminal (stderr): on a TTY the device flow's wait is one line redrawn with the time left. */
  readonly terminal?: StatusStream;
  /** Put before that redrawn line, as `progress` puts it before its lines. */
  readonly terminalPrefix?: string;
  /** The device flow's RFC 8707 resource, replacing the service's; `false`: none. */
  readonly resource?: string | false;
  readonly signal?: AbortSignal;
  /** "ec" (P-256, the default) or "rsa"; renewals keep the type. */
  readonly keyType?: ConnectorKeyType;
  /** RSA key size; default that of createKeyAndCsr. */
  readonly keyBits?: number;
  /**
   * A local allow-list of targets (CIDR, address or host name, each with an
   * optional `:port`), kept in the state directory for `run`. Absent: an
   * allow-list already there stays.
   */
  readonly allow?: readonly string[];
  /** The outbound proxy for the calls to the service and the identity provider (proxy-settings.ts resolveProxySettings); default: direct. */
  readonly proxy?: OutboundProxySettings;
}

/** What a registration produced, as `gatehouse-connector register` prints it. */
export interface RegistrationSummary {
  readonly connectorId: string;
  readonly group: string;
  readonly serviceUrl: string;
  readonly stateDir: string;
  readonly registeredAt: string;
  readonly notAfter: string;
  readonly renewalAgeSeconds: number;
  /** SHA-256 of the certificate, colon-separated hex, as administrators see it. */
  readonly certificateFingerprint256: string;
  /** The allow-list in the state directory, or null when the connector may dial any configured address. */
  readonly allowList: readonly string[] | null;
  readonly keyType: ConnectorKeyType;
}

/** Trust anchors for the identity provider: its own CA file, else the service's plus the system roots. */
function idpTrust(idpCaPem: string | undefined, serviceCaPem: string | undefined): string[] | undefined {
  if (idpCaPem !== undefined) return [idpCaPem];
  if (serviceCaPem !== undefined) return [serviceCaPem, ...rootCertificates];
  return undefined;
}

/** Registers this host as a connector: a fresh key and CSR, an admin token (given, or by device login), and the signed certificate and CA chain written to the state directory. */
export async function registerConnector(options: RegisterOptions): Promise<RegistrationSummary> {
  const serviceUrl = parseServiceUrl(options.serviceUrl).origin;
  if (options.token !== undefined && options.token.trim() === '') throw new ConnectorArgumentError('--token must not be empty');
  const { stateDir, log, signal } = options;
  const progress = options.progress ?? ((): void => undefined);

  // Checked before anyone is asked to sign in.
  const keyType = options.keyType ?? DEFAULT_CONNECTOR_KEY_TYPE;
  if (!CONNECTOR_KEY_TYPES.includes(keyType)) throw new ConnectorArgumentError(`--key-type must be ${CONNECTOR_KEY_TYPES.join(' or ')}`);
  if (keyType === 'ec' && options.keyBits !== undefined) throw new ConnectorArgumentError('a key size applies to RSA keys only');
  const allowList = options.allow === undefined ? undefined : parseAllowOption(options.allow);
  const serviceCaPem = options.caFile === undefined ? undefined : await readCaFile(options.caFile, '--ca-file');
  const idpCaPem = options.idpCaFile === undefined ? undefined : await readCaFile(options.idpCaFile, '--idp-ca-file');

  // Before anyone is asked to sign in: the state must be writable and free.
  await ensureStateDir(stateDir);
  if (!options.force && (await hasRegistration(stateDir))) {
    throw new ConnectorError(
      'ERR_ALREADY_REGISTERED',
      `${stateDir} already holds a registration. To replace it (the old certificate stays valid until an administrator revokes it), add --force.`,
      { reason: 'already_registered' },
    );
  }
  await removeStaleTempFiles(stateDir);

  const client = new ServiceClient({
    serviceUrl,
    ...(serviceCaPem !== undefined ? { ca: serviceCaPem } : {}),
    ...(options.proxy !== undefined ? { proxy: options.proxy } : {}),
  });
  try {
    let token = options.token?.trim();
    if (token === undefined) {
      const trust = idpTrust(idpCaPem, serviceCaPem);
      token = await obtainAdminTokenByDeviceLogin({
        client,
        progress,
        terminal: options.terminal,
        terminalPrefix: options.terminalPrefix,
        resource: options.resource,
        ...(trust ? { idpCa: trust } : {}),
        ...(log ? { log } : {}),
        ...(signal ? { signal } : {}),
      });
    }

    const { keyPem, csrPem } = createKeyAndCsr({ keyType, ...(options.keyBits === undefined ? {} : { bits: options.keyBits }) });
    log?.info({ serviceUrl, group: options.group ?? null }, 'registering with the service');
    progress(`Registering with ${serviceUrl}…`);
    const body = await client.call({
      method: 'POST',
      path: REGISTER_PATH,
      anonymous: true,
      bearer: token,
      body: {
        csr: csrPem,
        ...(options.group !== undefined ? { group: options.group } : {}),
        name: options.name ?? hostname(),
      },
      ...(signal ? { signal } : {}),
    });
    const issued = checkIssued(body, keyPem, 'registration');

    // connector.json goes first and comes back last: a crash in between
    // leaves "not registered" rather than an old id beside a new key.
    await removeRecord(stateDir);
    await writeServiceCa(stateDir, serviceCaPem);
    await writeCaChain(stateDir, issued.caChainPem);
    await writeIdentity(stateDir, { keyPem, certPem: issued.certificate });
    if (allowList) await writeAllowList(stateDir, allowList);
    const kept = allowList ?? (await readAllowList(stateDir));
    const registeredAt = new Date().toISOString();
    await writeRecord(stateDir, { connectorId: issued.connectorId, group: issued.group, serviceUrl, registeredAt });
    const fingerprint = certificateFingerprint256(issued.certificate);
    log?.info({ connectorId: issued.connectorId, group: issued.group, notAfter: issued.notAfter, fingerprint256: fingerprint }, 'registered');
    return Object.freeze({
      connectorId: issued.connectorId,
      group: issued.group,
      serviceUrl,
      stateDir,
      registeredAt,
      notAfter: issued.notAfter,
      renewalAgeSeconds: issued.renewalAgeSeconds,
      certificateFingerprint256: fingerprint,
      allowList: kept ? kept.texts : null,
      keyType,
    });
  } finally {
    client.close();
  }
}

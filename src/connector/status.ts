/**
 * `gatehouse-connector status`: what the state directory says (id, group,
 * certificate age and expiry) and what the service says right now, through a
 * real mTLS call to /config (reachable, certificate accepted, renewal due),
 * and the local allow-list `run` enforces.
 * Read-only: safe to run beside `run`.
 */
import { X509Certificate } from 'node:crypto';
import { systemClock, type Clock } from '../clock.ts';
import { certificateFingerprint256 } from '../pki/fingerprint.ts';
import { parseConnectorConfig } from './config.ts';
import { isConnectorError } from '../errors/connector-error.ts';
import { CONFIG_PATH } from '../protocol/connector-api.ts';
import type { OutboundProxySettings } from './proxy-settings.ts';
import { ServiceClient } from './service-client.ts';
import { loadState, readAllowList } from './state.ts';

/** Options of `connectorStatus()`. */
export interface ConnectorStatusOptions {
  readonly stateDir: string;
  readonly clock?: Clock;
  /** For the call to the service. */
  readonly timeoutMs?: number;
  /** The outbound proxy for that call; default: direct. */
  readonly proxy?: OutboundProxySettings;
}

/** What `connectorStatus()` reports (what `gatehouse-connector status --json` prints). */
export interface ConnectorStatus {
  readonly stateDir: string;
  readonly connectorId: string;
  /** The service's answer when it gave one, else what connector.json says. */
  readonly group: string;
  readonly serviceUrl: string;
  readonly registeredAt: string;
  /** The local allow-list `run` enforces, or null: any address the service configures. */
  readonly allowList: readonly string[] | null;
  readonly certificate: {
    readonly serialNumber: string;
    /** SHA-256 of the certificate, lowercase hex, as the admin API shows it. */
    readonly fingerprint256: string;
    readonly notBefore: string;
    readonly notAfter: string;
    readonly ageSeconds: number;
    readonly expiresInSeconds: number;
    readonly expired: boolean;
  };
  /** `due` is null when the service could not be asked. */
  readonly renewal: { readonly due: boolean | null; readonly ageSeconds: number | null; readonly dueAt: string | null };
  readonly service: {
    readonly reachable: boolean;
    /** The service accepted this connector's certificate. */
    readonly accepted: boolean;
    readonly configVersion: number | null;
    readonly apps: readonly string[] | null;
    readonly error: { readonly code: string; readonly message: string } | null;
  };
}

/** Reads the state directory and asks the service once (mTLS); read-only, safe beside a running connector. */
export async function connectorStatus(options: ConnectorStatusOptions): Promise<ConnectorStatus> {
  const clock = options.clock ?? systemClock;
  const state = await loadState(options.stateDir, { repair: false });
  const { record } = state;
  const allowList = await readAllowList(options.stateDir);
  const certificate = new X509Certificate(state.identity.certPem);
  const now = clock();
  const notBefore = Date.parse(certificate.validFrom);
  const notAfter = Date.parse(certificate.validTo);

  const client = new ServiceClient({
    serviceUrl: record.serviceUrl,
    identity: state.identity,
    ...(state.serviceCaPem !== undefined ? { ca: state.serviceCaPem } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.proxy !== undefined ? { proxy: options.proxy } : {}),
  });
  let service: ConnectorStatus['service'];
  let renewal: ConnectorStatus['renewal'] = { due: null, ageSeconds: null, dueAt: null };
  let group = record.group;
  try {
    const config = parseConnectorConfig(await client.call({ method: 'GET', path: CONFIG_PATH }), record.connectorId);
    group = config.group;
    const dueAt = new Date(Date.parse(config.renewal.issuedAt) + config.renewal.ageSeconds * 1000).toISOString();
    renewal = { due: config.renewal.due, ageSeconds: config.renewal.ageSeconds, dueAt };
    service = { reachable: true, accepted: true, configVersion: config.version, apps: [...config.apps.keys()], error: null };
  } catch (error) {
    const code = isConnectorError(error) ? error.code : 'ERR_UNEXPECTED';
    const message = error instanceof Error ? error.message : String(error);
    // A refusal is an answer: the service is up but will not take this certificate.
    const reachable =
      isConnectorError(error) &&
      (error.service !== undefined || error.code === 'ERR_CERT_REFUSED' || error.code === 'ERR_CONNECTOR_REVOKED' || error.code === 'ERR_CONFIG_INVALID');
    service = { reachable, accepted: reachable && error.code === 'ERR_CONFIG_INVALID', configVersion: null, apps: null, error: { code, message } };
  } finally {
    client.close();
  }

  return {
    stateDir: options.stateDir,
    connectorId: record.connectorId,
    group,
    serviceUrl: record.serviceUrl,
    registeredAt: record.registeredAt,
    allowList: allowList ? allowList.texts : null,
    certificate: {
      serialNumber: certificate.serialNumber,
      fingerprint256: certificateFingerprint256(certificate.raw),
      notBefore: new Date(notBefore).toISOString(),
      notAfter: new Date(notAfter).toISOString(),
      ageSeconds: Math.max(0, Math.floor((now - notBefore) / 1000)),
      expiresInSeconds: Math.floor((notAfter - now) / 1000),
      expired: now >= notAfter,
    },
    renewal,
    service,
  };
}

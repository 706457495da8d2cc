/** The human text of `gatehouse-connector status` (the JSON form is the ConnectorStatus itself). */
import type { ConnectorStatus } from './status.ts';

function duration(seconds: number): string {
  const abs = Math.abs(seconds);
  if (abs >= 2 * 86_400) return `${Math.floor(abs / 86_400)} days`;
  if (abs >= 2 * 3600) return `${Math.floor(abs / 3600)} hours`;
  if (abs >= 120) return `${Math.floor(abs / 60)} minutes`;
  return `${abs} seconds`;
}

/** The human text `status` prints. */
export function formatConnectorStatus(status: ConnectorStatus): string {
  const { certificate, renewal, service } = status;
  const expiry = certificate.expired
    ? `EXPIRED ${duration(certificate.expiresInSeconds)} ago (${certificate.notAfter})`
    : `${certificate.notAfter} (in ${duration(certificate.expiresInSeconds)})`;
  let renewalLine: string;
  if (renewal.due === null) renewalLine = 'unknown (the service could not be asked)';
  else if (renewal.due) renewalLine = 'due now (run renews it on its own)';
  else renewalLine = `not due (due ${renewal.dueAt ?? 'later'})`;
  let serviceLine: string;
  if (service.error === null) serviceLine = `reachable, certificate accepted, configuration version ${service.configVersion ?? '?'}`;
  else if (service.reachable) serviceLine = `reachable, but: ${service.error.message}`;
  else serviceLine = `NOT reachable: ${service.error.message}`;
  const lines = [
    `connector:    ${status.connectorId}`,
    `group:        ${status.group}`,
    `service:      ${status.serviceUrl}`,
    `registered:   ${status.registeredAt}`,
    `allow-list:   ${status.allowList === null ? 'none (any internal URL the service configures)' : status.allowList.join(', ')}`,
    `certificate:  serial ${certificate.serialNumber}, ${duration(certificate.ageSeconds)} old`,
    `  sha-256:    ${certificate.fingerprint256}`,
    `  expires:    ${expiry}`,
    `renewal:      ${renewalLine}`,
    `reachable:    ${serviceLine}`,
  ];
  if (service.apps !== null) lines.push(`apps:         ${service.apps.length === 0 ? '(none)' : service.apps.join(', ')}`);
  return `${lines.join('\n')}\n`;
}

/**
 * When a connector's certificate is due for renewal: once it is older, by
 * the service's clock, than the configured renewal age. The certificate's own
 * validity runs on real time and is longer, so a due renewal has room.
 */
import { nowSeconds, type Clock } from '../clock.ts';
import type { ConnectorRecord } from './connector-registry.ts';

export function isRenewalDue(record: ConnectorRecord, renewalAgeSeconds: number, clock: Clock): boolean {
  return nowSeconds(clock) - record.certificate.issuedAt >= renewalAgeSeconds;
}

/** The moment it becomes due, ISO 8601. */
export function renewalDueAt(record: ConnectorRecord, renewalAgeSeconds: number): string {
  return new Date((record.certificate.issuedAt + renewalAgeSeconds) * 1000).toISOString();
}

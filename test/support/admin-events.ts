import { request } from 'node:https';
import type { AuditEvent } from '../../src/audit/events.ts';
import type { Stack } from './stack.ts';

/** The recent audit events of a type, as an administrator reads them through the query API on the connector listener. */
export function adminRecentEvents(stack: Stack, token: string, type: string, limit = 1000): Promise<AuditEvent[]> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${stack.connectorUrl}/.gatehouse/admin/events?type=${type}&limit=${limit}`,
      { ca: [stack.gateway.connectors!.ca.certPem], headers: { authorization: `Bearer ${token}` } },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () =>
          res.statusCode === 200 ? resolve((JSON.parse(text) as { events: AuditEvent[] }).events) : reject(new Error(`${res.statusCode} ${text}`)),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/**
 * The answer to register and renew (docs/connector-protocol.md), as both
 * processes must read it: the service types what it sends by this schema and
 * the connector validates what it receives with it.
 */
import { z } from 'zod';

export const issuedCertificateSchema = z.object({
  connectorId: z.string().min(1).max(200),
  group: z.string().min(1).max(200),
  certificate: z.string().min(1),
  caChain: z.array(z.string().min(1)).min(1).max(10),
  notAfter: z.iso.datetime({ offset: true }),
  renewalAgeSeconds: z.number().int().positive(),
});

export type IssuedCertificateAnswer = z.input<typeof issuedCertificateSchema>;

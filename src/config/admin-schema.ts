/**
 * `admin`: the optional listener for operators and their tools, apart from
 * the published hosts: health, readiness and Prometheus metrics. It answers
 * without authentication, so it belongs on a private address (loopback, or a
 * network only the monitoring reaches).
 */
import { z } from 'zod';
import { parseListenAddress } from '../health/listen-address.ts';
import { tlsFiles } from './field-schemas.ts';

const listenObject = z.strictObject({
  host: z.string().min(1, 'must name an address, e.g. "127.0.0.1"'),
  port: z.number().int().min(0).max(65535),
});

/** `"127.0.0.1:9100"` or `{ host: "127.0.0.1", port: 9100 }`; either way `{ host, port }` once parsed. */
const listen = z.union([listenObject, z.string()]).transform((value, ctx) => {
  if (typeof value !== 'string') return value;
  const address = parseListenAddress(value);
  if (typeof address === 'string') {
    ctx.addIssue({ code: 'custom', message: address });
    return z.NEVER;
  }
  return address;
});

export const adminSchema = z.strictObject({
  /** Where the admin listener listens, e.g. "127.0.0.1:9100". */
  listen,
  /** Serve it over HTTPS with this certificate and key. Absent: plain HTTP. */
  tls: tlsFiles.optional(),
});

/**
 * The `limits:` section: the bounds the gateway holds clients to, one part
 * per kind of limit, each in a schema of its own. `limits.rate`: requests
 * per second per client address without a session or access token.
 * `limits.streams`: long-lived connections (tunnel stream shares, WebSockets).
 * `limits.body`: how slowly a request body may arrive. `limits.connections`:
 * connections open at once per peer address.
 */
import { z } from 'zod';
import { bodyLimitsSchema } from './body-limits-schema.ts';
import { connectionLimitsSchema } from './connection-limits-schema.ts';
import { rateLimitSchema } from './rate-limit-schema.ts';
import { streamLimitsSchema } from './stream-limits-schema.ts';

export const limitsSchema = z
  .strictObject({
    rate: rateLimitSchema,
    streams: streamLimitsSchema,
    body: bodyLimitsSchema,
    connections: connectionLimitsSchema,
  })
  .prefault({});

export type LimitSettings = z.output<typeof limitsSchema>;

/**
 * The `limits:` section: the bounds the gateway holds clients to, one part
 * per kind of limit, each in a schema of its own. `limits.rate`: requests
 * per second per client address without a session or access token.
 * `limits.streams`: long-lived connections (tunnel stream shares, WebSockets).
 */
import { z } from 'zod';
import { rateLimitSchema } from './rate-limit-schema.ts';
import { streamLimitsSchema } from './stream-limits-schema.ts';

export const limitsSchema = z
  .strictObject({
    rate: rateLimitSchema,
    streams: streamLimitsSchema,
  })
  .prefault({});

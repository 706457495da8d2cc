/**
 * Request bodies on the public listener (`limits.body`): the least data rate
 * a body must keep once its grace period has passed, averaged over a window,
 * and the longest a whole body may take. Either bound takes `false` to turn
 * it off.
 */
import { z } from 'zod';
import { BODY_MIN_RATE_BYTES_PER_SECOND, BODY_RATE_GRACE_SECONDS, BODY_RATE_WINDOW_SECONDS, BODY_TIMEOUT_SECONDS } from '../limits.ts';
import { durationSeconds } from './duration.ts';

const RATE_OR_OFF = 'must be a whole number of bytes per second of at least 1, e.g. 1024, or false to turn it off';
const TIMEOUT_OR_OFF = 'must be a duration such as "1h" (units s, m, h, d) of at most 7 days, or false to turn it off';

export const bodyLimitsSchema = z
  .strictObject({
    /** Bytes per second a body must average over `window`, once `grace` has passed since its headers. */
    minRate: z.union([z.number().int().min(1).max(1_000_000_000), z.literal(false)], { error: RATE_OR_OFF }).default(BODY_MIN_RATE_BYTES_PER_SECOND),
    /** The stretch of time the rate is averaged over: a stall shorter than it, between faster stretches, passes. */
    window: durationSeconds('20s', 3600).default(BODY_RATE_WINDOW_SECONDS),
    /** How long after its headers a body is left alone, whatever its rate (a client that waits for 100 Continue, a slow start). */
    grace: durationSeconds('20s', 3600).default(BODY_RATE_GRACE_SECONDS),
    /** The longest a whole body may take, however fast it comes. */
    timeout: z.union([durationSeconds('1h', 7 * 86_400), z.literal(false)], { error: TIMEOUT_OR_OFF }).default(BODY_TIMEOUT_SECONDS),
  })
  .prefault({});

export type BodyLimitSettings = z.output<typeof bodyLimitsSchema>;

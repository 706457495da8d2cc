/**
 * Requests per second per client address for callers with no session or
 * access token (`limits.rate`): one token bucket per address and limit.
 * Every limit takes `{ perSecond, burst }`, or `false` to turn it off.
 */
import { z } from 'zod';
import {
  RATE_ANONYMOUS_BURST,
  RATE_ANONYMOUS_PER_SECOND,
  RATE_BACKCHANNEL_LOGOUT_BURST,
  RATE_BACKCHANNEL_LOGOUT_PER_SECOND,
  RATE_CALLBACK_BURST,
  RATE_CALLBACK_PER_SECOND,
  RATE_CONNECTOR_ADMIN_BURST,
  RATE_CONNECTOR_ADMIN_PER_SECOND,
  RATE_CONNECTOR_REGISTER_BURST,
  RATE_CONNECTOR_REGISTER_PER_SECOND,
  RATE_LIMIT_MAX_CLIENTS,
  RATE_SIGNIN_BURST,
  RATE_SIGNIN_PER_SECOND,
} from '../limits.ts';

/** One token bucket: `burst` requests at once, refilled at `perSecond` (fractions allowed: 0.2 is one every 5 s). */
export interface RateBucket {
  readonly perSecond: number;
  readonly burst: number;
}

const bucket = z.strictObject({
  perSecond: z.number().positive().max(1_000_000),
  burst: z.number().int().min(1).max(10_000_000),
});

const BUCKET_OR_OFF =
  'must be { perSecond, burst } (perSecond above 0, burst a whole number of at least 1), e.g. { perSecond: 10, burst: 50 }, or false to turn it off';

function limit(perSecond: number, burst: number) {
  return z.union([bucket, z.literal(false)], { error: BUCKET_OR_OFF }).default({ perSecond, burst });
}

export const rateLimitSchema = z
  .strictObject({
    /** Any request with no session cookie or access token: pass-through apps, the sign-in pages, a pre-authenticated app's refusals. */
    anonymous: limit(RATE_ANONYMOUS_PER_SECOND, RATE_ANONYMOUS_BURST),
    /** `/.gatehouse/signin`: each one seals a sign-in attempt and writes an audit event. */
    signin: limit(RATE_SIGNIN_PER_SECOND, RATE_SIGNIN_BURST),
    /** `/.gatehouse/callback`: each one checks a state, and a valid one calls the identity provider. */
    callback: limit(RATE_CALLBACK_PER_SECOND, RATE_CALLBACK_BURST),
    /** `/.gatehouse/backchannel-logout`: each one verifies a signed logout token. */
    backchannelLogout: limit(RATE_BACKCHANNEL_LOGOUT_PER_SECOND, RATE_BACKCHANNEL_LOGOUT_BURST),
    /** The connector listener's `POST /register`: an admin token checked (perhaps at the identity provider) and a certificate signed. */
    connectorRegister: limit(RATE_CONNECTOR_REGISTER_PER_SECOND, RATE_CONNECTOR_REGISTER_BURST),
    /** The connector listener's admin API (`/admin/…`): each call checks an admin token. */
    connectorAdmin: limit(RATE_CONNECTOR_ADMIN_PER_SECOND, RATE_CONNECTOR_ADMIN_BURST),
    /** Buckets one instance keeps, all limits together (one per limit and address); past it the idlest are evicted. */
    maxClients: z.number().int().min(100).max(10_000_000).default(RATE_LIMIT_MAX_CLIENTS),
  })
  .prefault({});

export type RateLimitSettings = z.output<typeof rateLimitSchema>;

/** The limits by name, without `maxClients`. */
export type RateLimitName = Exclude<keyof RateLimitSettings, 'maxClients'>;

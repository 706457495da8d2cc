/**
 * The bounds on long-lived connections in the configuration: each app's share
 * of its connector group's tunnel streams, WebSockets per session and per
 * client address, and the WebSocket idle timeout. `limits.streams` holds the
 * defaults, `apps[].limits` an app's own.
 */
import { z } from 'zod';
import { APP_STREAM_SHARE_PERCENT, WEBSOCKET_IDLE_TIMEOUT_SECONDS, WEBSOCKETS_PER_IP, WEBSOCKETS_PER_SESSION } from '../limits.ts';
import { durationSeconds } from './duration.ts';

const PERCENT = /^(\d{1,3})%$/;

/** An app's share of its connector group's streams: a number of streams, or a percentage of what the group's tunnels carry. */
export type StreamShare = { readonly streams: number } | { readonly percent: number };

/** A share of a connector group's streams: a number of streams (e.g. 200) or a percentage of the group's capacity (e.g. "25%"). */
export const streamShareSchema = z
  .union([z.number(), z.string(), z.strictObject({ streams: z.number() }), z.strictObject({ percent: z.number() })])
  .transform((input, ctx): StreamShare => {
    // A parsed configuration is parsed again unchanged (reload, createGateway with a parsed config): the parsed form is taken too.
    const value = typeof input === 'object' ? ('streams' in input ? input.streams : `${input.percent}%`) : input;
    if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 1_000_000) return { streams: value };
    const percent = typeof value === 'string' ? Number(PERCENT.exec(value.trim())?.[1]) : Number.NaN;
    if (percent >= 1 && percent <= 100) return { percent };
    ctx.addIssue({ code: 'custom', message: 'must be a number of streams such as 200, or a percentage of the group\'s streams such as "25%"' });
    return z.NEVER;
  });

/** A day at most: a WebSocket quiet for longer than that is not kept for anyone. */
const idleTimeout = durationSeconds('10m', 86_400);

export const streamLimitsSchema = z
  .strictObject({
    /** The share of its connector group's streams an app may hold when the group serves more than one app. */
    appShare: streamShareSchema.default({ percent: APP_STREAM_SHARE_PERCENT }),
    /** WebSockets open at once per session, and per client address (an IPv6 /64 is one address); with Redis over every instance, else on this one. */
    websocketsPerSession: z.number().int().min(1).max(100_000).default(WEBSOCKETS_PER_SESSION),
    websocketsPerIp: z.number().int().min(1).max(1_000_000).default(WEBSOCKETS_PER_IP),
    /** A WebSocket with no byte either way (pings count) for this long is closed. */
    websocketIdleTimeout: idleTimeout.default(WEBSOCKET_IDLE_TIMEOUT_SECONDS),
  })
  .prefault({});

/** An app's own bounds (`apps[].limits`), in place of the defaults of `limits.streams`. */
export const appStreamLimitsSchema = z
  .strictObject({
    /** This app's share of its connector group's streams; set, it applies even when the app is alone in its group. */
    streams: streamShareSchema.optional(),
    websocketIdleTimeout: idleTimeout.optional(),
  })
  .prefault({});

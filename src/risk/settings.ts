import { z } from 'zod';
import { durationSeconds } from '../config/duration.ts';
import {
  RISK_MAX_FAILURE_THRESHOLD,
  RISK_MAX_NETWORK_MEMORY_SECONDS,
  RISK_MAX_NETWORKS_PER_USER,
  RISK_MAX_TRACKED_ADDRESSES,
  RISK_MAX_TRACKED_USERS,
  RISK_MAX_WINDOW_SECONDS,
  RISK_PROVIDER_MAX_TIMEOUT_MS,
  RISK_PROVIDER_TIMEOUT_MS,
} from '../limits.ts';

/**
 * The `risk:` section of the gateway configuration: the built-in provider's
 * thresholds and windows (see built-in-risk.ts for what each signal does) and
 * how a custom provider's failures count. Every key has a default, so
 * `risk: {}` (or no `risk:` at all) gives the documented behaviour.
 */

const count = (min: number, max: number, fallback: number) => z.number().int().min(min).max(max).default(fallback);

const thresholds = (medium: number, high: number) =>
  z
    .strictObject({
      /** This many failures in the window make the sign-in risk `medium`. */
      medium: count(1, RISK_MAX_FAILURE_THRESHOLD, medium),
      /** This many make it `high`. */
      high: count(1, RISK_MAX_FAILURE_THRESHOLD, high),
    })
    .refine((value) => value.high > value.medium, { message: 'high must be larger than medium', path: ['high'] })
    .prefault({});

export const riskSettingsSchema = z
  .strictObject({
    /** false: the built-in provider answers `none` and remembers nothing. */
    enabled: z.boolean().default(true),
    /** What counts as one network for the new-network and many-networks signals. */
    networks: z
      .strictObject({
        ipv4Prefix: count(8, 32, 24),
        ipv6Prefix: count(16, 128, 48),
      })
      .prefault({}),
    failedSignIns: z
      .strictObject({
        enabled: z.boolean().default(true),
        window: durationSeconds('15m', RISK_MAX_WINDOW_SECONDS).default(15 * 60),
        perUser: thresholds(5, 10),
        perAddress: thresholds(20, 40),
        /** IPv6 clients are counted per prefix of this length: one host can pick any address in its /64. */
        ipv6AddressPrefix: count(32, 128, 64),
      })
      .prefault({}),
    newNetwork: z
      .strictObject({
        enabled: z.boolean().default(true),
        level: z.enum(['low', 'medium', 'high']).default('low'),
        /** A network not used for this long is unfamiliar again. */
        rememberFor: durationSeconds('90d', RISK_MAX_NETWORK_MEMORY_SECONDS).default(90 * 86_400),
      })
      .prefault({}),
    manyNetworks: z
      .strictObject({
        enabled: z.boolean().default(true),
        window: durationSeconds('1h', RISK_MAX_WINDOW_SECONDS).default(3600),
        /** Distinct networks in the window that make the user risk `medium`; at least 2. */
        medium: count(2, RISK_MAX_NETWORKS_PER_USER, 3),
        high: count(2, RISK_MAX_NETWORKS_PER_USER, 5),
      })
      .refine((value) => value.high > value.medium, { message: 'high must be larger than medium', path: ['high'] })
      .prefault({}),
    /** Memory bounds; each may only be lowered from its default. */
    memory: z
      .strictObject({
        maxUsers: count(1, RISK_MAX_TRACKED_USERS, RISK_MAX_TRACKED_USERS),
        maxAddresses: count(1, RISK_MAX_TRACKED_ADDRESSES, RISK_MAX_TRACKED_ADDRESSES),
        maxNetworksPerUser: count(1, RISK_MAX_NETWORKS_PER_USER, RISK_MAX_NETWORKS_PER_USER),
      })
      .prefault({}),
    /** How a custom (pluggable) provider's failures count; see safe-risk-provider.ts. */
    customProvider: z
      .strictObject({
        onError: z.enum(['none', 'high']).default('high'),
        timeoutMs: count(1, RISK_PROVIDER_MAX_TIMEOUT_MS, RISK_PROVIDER_TIMEOUT_MS),
      })
      .prefault({}),
  })
  .superRefine((settings, ctx) => {
    if (settings.manyNetworks.high > settings.memory.maxNetworksPerUser) {
      ctx.addIssue({
        code: 'custom',
        path: ['manyNetworks', 'high'],
        message: `must be at most memory.maxNetworksPerUser (${settings.memory.maxNetworksPerUser}), or it can never be reached`,
      });
    }
  });

export type RiskSettingsInput = z.input<typeof riskSettingsSchema>;
export type RiskSettings = z.output<typeof riskSettingsSchema>;

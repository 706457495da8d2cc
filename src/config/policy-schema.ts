import { z } from 'zod';
import { durationSeconds } from './duration.ts';

/**
 * The configuration of conditional access (src/policy/types.ts describes the
 * engine that evaluates it). Kept beside the gateway schema, which embeds it
 * per app.
 */

const riskLevel = z.enum(['none', 'low', 'medium', 'high']);
const nonEmpty = z.string().min(1);
// An empty list would silently switch a policy off for everyone: refused.
const includeExclude = z
  .strictObject({ include: z.array(nonEmpty).min(1).optional(), exclude: z.array(nonEmpty).min(1).optional() })
  .refine((value) => value.include !== undefined || value.exclude !== undefined, 'give "include", "exclude" or both');

const claimName = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be a claim name');
const scalar = z.union([z.string(), z.number(), z.boolean()]);
const claimMatch = z.union([
  z.strictObject({ claim: claimName, equals: scalar }),
  z.strictObject({ claim: claimName, contains: z.string() }),
  z.strictObject({ claim: claimName, in: z.array(scalar).min(1) }),
]);

export const policySchema = z
  .strictObject({
    name: z.string().regex(/^[\x20-\x7e]{1,80}$/, 'must be 1-80 printable ASCII characters'),
    state: z.enum(['on', 'off', 'report-only']).default('on'),
    conditions: z
      .strictObject({
        users: includeExclude.optional(),
        groups: includeExclude.optional(),
        locations: includeExclude.optional(),
        clientApps: z
          .array(z.enum(['browser', 'api']))
          .min(1)
          .optional(),
        kinds: z
          .array(z.enum(['user', 'service']))
          .min(1)
          .optional(),
        signInRisk: z.array(riskLevel).min(1).optional(),
        userRisk: z.array(riskLevel).min(1).optional(),
        claims: z.array(claimMatch).min(1).optional(),
        paths: z
          .array(z.string().regex(/^\/[^\s?#]*$/, 'must be a path such as "/admin/"'))
          .min(1)
          .optional(),
      })
      .prefault({}),
    grant: z
      .strictObject({
        block: z.boolean().optional(),
        mfa: z.boolean().optional(),
        claims: z.array(claimMatch).min(1).optional(),
        operator: z.enum(['all', 'one']).optional(),
      })
      .prefault({}),
    session: z
      .strictObject({
        signInFrequency: durationSeconds('1h').optional(),
        persistentBrowser: z.enum(['allowed', 'never']).optional(),
      })
      .optional(),
  })
  .refine((policy) => policy.grant.block === true || policy.grant.mfa === true || policy.grant.claims !== undefined || policy.session !== undefined, {
    message: 'name at least one grant control (block, mfa, claims) or a session control',
    path: ['grant'],
  });

export const mfaSchema = z
  .strictObject({
    /** `amr` values (RFC 8176) that count as multi-factor. */
    amr: z.array(nonEmpty).default(['mfa']),
    /** `acr` values that count as multi-factor. */
    acr: z.array(nonEmpty).default([]),
    /** What a step-up asks the identity provider for (`acr_values`). */
    acrValues: z.array(z.string().regex(/^[\x21-\x7e]+$/)).default([]),
  })
  .prefault({});

export const namedLocationsSchema = z.record(
  z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, dashes or underscores'),
  z.array(z.string()).min(1),
);

export type PolicyInput = z.input<typeof policySchema>;
export type ParsedPolicy = z.output<typeof policySchema>;

import { z } from 'zod';
import { auditSettingsSchema } from '../audit/settings.ts';
import { parseCidr } from '../ip/cidr.ts';
import {
  ASSERTION_KEY_RETIRE_MARGIN_SECONDS,
  DEFAULT_CLOCK_TOLERANCE_SECONDS,
  IDP_REQUEST_TIMEOUT_SECONDS,
  MAX_CLOCK_TOLERANCE_SECONDS,
  MIN_ASSERTION_KEY_ROTATION_SECONDS,
  MIN_SECRET_LENGTH,
  SERVER_SHUTDOWN_TIMEOUT_MS,
} from '../limits.ts';
import { riskSettingsSchema } from '../risk/settings.ts';
import { adminSchema } from './admin-schema.ts';
import { appSchema } from './app-schema.ts';
import { authorizationParamsSchema } from './authorization-params-schema.ts';
import { connectorsSchema } from './connectors-schema.ts';
import { durationSeconds } from './duration.ts';
import { cidr, httpsOrLoopbackHttpUrl, inlineSecret, tlsFiles } from './field-schemas.ts';
import { forwardingSchema } from './forwarding-schema.ts';
import { groupsClaimSchema, groupsEndpointSchema } from './groups-schema.ts';
import { limitsSchema } from './limits-schema.ts';
import { mfaSchema, namedLocationsSchema } from './policy-schema.ts';
import { loggingSchema } from './logging-schema.ts';
import { storeSchema } from './store-schema.ts';

/**
 * The one schema for a gateway's configuration, used by createGateway() and by
 * `gatehouse serve --config FILE`. Values that name a file (`…File`) are read
 * by parseGatewayConfig before validation of their content.
 */

const secretEntry = z
  .strictObject({
    id: z
      .number()
      .int()
      .positive()
      .max(2 ** 31 - 1),
    secret: z.string().optional(),
    secretFile: z.string().min(1).optional(),
  })
  .superRefine((entry, ctx) => {
    if ((entry.secret === undefined) === (entry.secretFile === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of "secret" or "secretFile"' });
      return;
    }
    if (entry.secret !== undefined && entry.secret.length < MIN_SECRET_LENGTH) {
      ctx.addIssue({
        code: 'custom',
        path: ['secret'],
        message: `must be at least ${MIN_SECRET_LENGTH} characters (generate one with: openssl rand -base64 48)`,
      });
    }
  });

export const gatewayConfigSchema = z
  .strictObject({
    identityProvider: z.strictObject({
      issuer: httpsOrLoopbackHttpUrl('the issuer', 'https://login.example.com').superRefine((value, ctx) => {
        if (URL.canParse(value) && new URL(value).protocol !== 'https:') {
          ctx.addIssue({ code: 'custom', message: 'must be an https URL: ID tokens and keys are only fetched over TLS' });
        }
      }),
      clientId: z.string().min(1, 'must not be empty'),
      clientSecret: inlineSecret.optional(),
      clientSecretFile: z.string().min(1).optional(),
      /** PEM bundle to trust for the identity provider, in addition to the public roots. */
      ca: z.string().optional(),
      caFile: z.string().min(1).optional(),
      scopes: z
        .array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'must be a scope token'))
        .default(['openid', 'profile', 'email'])
        .refine((scopes) => scopes.includes('openid'), 'must include "openid"'),
      clockToleranceSeconds: z.number().int().min(0).max(MAX_CLOCK_TOLERANCE_SECONDS).default(DEFAULT_CLOCK_TOLERANCE_SECONDS),
      timeoutSeconds: z.number().int().positive().max(120).default(IDP_REQUEST_TIMEOUT_SECONDS),
      idTokenSigningAlg: z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']).default('RS256'),
      /** The claim (or dotted path) that lists a user's groups, in ID tokens and access tokens. */
      groupsClaim: groupsClaimSchema,
      /** Asked for the user's groups when the ID token says there are too many to list (group overage). */
      groupsEndpoint: groupsEndpointSchema.optional(),
      /** Extra parameters on every authorization request (e.g. Google's `access_type: offline`); never one Gatehouse writes itself. */
      authorizationParams: authorizationParamsSchema,
    }),
    session: z.strictObject({
      secrets: z
        .array(secretEntry)
        .min(1, 'needs at least one secret')
        .superRefine((entries, ctx) => {
          const seen = new Set<number>();
          entries.forEach((entry, index) => {
            if (seen.has(entry.id)) ctx.addIssue({ code: 'custom', path: [index, 'id'], message: `duplicate secret id ${entry.id}` });
            seen.add(entry.id);
          });
        }),
      cookieName: z
        .string()
        .regex(/^[A-Za-z0-9_-]{1,32}$/, 'must be 1-32 letters, digits, dashes or underscores')
        .default('gatehouse'),
      maxLifetime: durationSeconds('8h').default(8 * 3600),
      idleTimeout: durationSeconds('1h').default(3600),
      persistent: z.boolean().default(false),
      /** Keep the refresh token (server side, sealed) and refresh the ID token before it expires, up to maxLifetime. */
      refresh: z.boolean().default(false),
    }),
    trustedProxies: z.array(cidr).default([]),
    /** Named locations for policies: name → IPv4/IPv6 CIDR list. */
    namedLocations: namedLocationsSchema.default({}).superRefine((locations, ctx) => {
      for (const [name, ranges] of Object.entries(locations)) {
        ranges.forEach((range, index) => {
          const parsed = parseCidr(range);
          if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', path: [name, index], message: parsed });
        });
      }
    }),
    /** What counts as multi-factor authentication, and what a step-up asks for. */
    mfa: mfaSchema,
    /** The built-in risk signals (see docs/conditional-access.md). */
    risk: riskSettingsSchema.prefault({}),
    /** Where audit events go: stdout, a file, a webhook; and how many recent ones the admin API keeps. */
    audit: auditSettingsSchema,
    /** The signed identity assertion sent to backends (a JWT in X-Gatehouse-Assertion). */
    identityAssertion: z
      .strictObject({
        issuer: z.string().min(1).default('urn:gatehouse'),
        /** PEM PKCS#8 EC P-256 private key. Default: kept in connectors.stateDir, else made at start. */
        key: z.string().optional(),
        keyFile: z.string().min(1).optional(),
        lifetime: durationSeconds('60s').default(60),
        /** How long a generated signing key signs before the next one (already in the JWKS) takes over. Ignored with `key`. */
        rotation: durationSeconds('30d').default(30 * 86_400),
      })
      .superRefine((assertion, ctx) => {
        const shortest = Math.max(MIN_ASSERTION_KEY_ROTATION_SECONDS, assertion.lifetime + ASSERTION_KEY_RETIRE_MARGIN_SECONDS + 1);
        if (assertion.rotation < shortest) {
          ctx.addIssue({
            code: 'custom',
            path: ['rotation'],
            message: `must be at least ${shortest}s (1h, and longer than lifetime plus ${ASSERTION_KEY_RETIRE_MARGIN_SECONDS}s), so verifiers know the next key before it signs, e.g. "30d"`,
          });
        }
      })
      .prefault({}),
    /** Request headers removed before forwarding, beyond the fixed rules. */
    forwarding: forwardingSchema,
    /** The connector-facing listener: registration, configuration, renewal and tunnels. Absent: apps are reached directly. */
    connectors: connectorsSchema.optional(),
    /** Where revocations, used sign-in states and server-side session data are kept. Absent: the state database in connectors.stateDir, else memory. */
    store: storeSchema.optional(),
    /** The admin listener (health, readiness, metrics) on an address of its own. Absent: not opened. */
    admin: adminSchema.optional(),
    /** The operational log's level and format, and the access log. */
    logging: loggingSchema,
    /** Bounds on what clients may ask of the gateway: requests per second per address without a session (`rate`). */
    limits: limitsSchema,
    apps: z
      .array(appSchema)
      .min(1, 'publish at least one app')
      .superRefine((apps, ctx) => {
        const ids = new Map<string, number>();
        const hosts = new Map<string, number>();
        apps.forEach((app, index) => {
          const idIndex = ids.get(app.id);
          if (idIndex !== undefined) ctx.addIssue({ code: 'custom', path: [index, 'id'], message: `duplicate app id "${app.id}" (also apps[${idIndex}])` });
          ids.set(app.id, index);
          // A pass-through app authenticates nobody: a token accepted there would be checked for nothing.
          if (app.bearer && app.preauth === 'passthrough') ctx.addIssue({ code: 'custom', path: [index, 'bearer'], message: 'needs preauth "oidc"' });
          if (!URL.canParse(app.externalUrl)) return;
          // By host name, not host:port: cookies are not scoped by port, so two apps on one name would share sessions.
          const host = new URL(app.externalUrl).hostname.toLowerCase();
          const hostIndex = hosts.get(host);
          if (hostIndex !== undefined) {
            ctx.addIssue({
              code: 'custom',
              path: [index, 'externalUrl'],
              message: `host "${host}" is already used by app "${apps[hostIndex]?.id ?? ''}" (apps[${hostIndex}]); cookies are not scoped by port: give each app its own host name`,
            });
          }
          hosts.set(host, index);
        });
      }),
    server: z
      .strictObject({
        host: z.string().default('0.0.0.0'),
        port: z.number().int().min(0).max(65535).default(8443),
        tls: tlsFiles.optional(),
        headersTimeout: durationSeconds('20s').optional(),
        keepAliveTimeout: durationSeconds('65s').optional(),
        shutdownTimeout: durationSeconds('30s').default(SERVER_SHUTDOWN_TIMEOUT_MS / 1000),
      })
      .prefault({}),
  })
  .superRefine((config, ctx) => {
    const locations = new Set(Object.keys(config.namedLocations));
    config.apps.forEach((app, appIndex) => {
      const names = new Set<string>();
      app.policies.forEach((policy, policyIndex) => {
        if (names.has(policy.name)) {
          ctx.addIssue({ code: 'custom', path: ['apps', appIndex, 'policies', policyIndex, 'name'], message: `duplicate policy name "${policy.name}"` });
        }
        names.add(policy.name);
        const { include = [], exclude = [] } = policy.conditions.locations ?? {};
        [...include, ...exclude].forEach((location) => {
          if (location !== 'any' && !locations.has(location) && typeof parseCidr(location) === 'string') {
            ctx.addIssue({
              code: 'custom',
              path: ['apps', appIndex, 'policies', policyIndex, 'conditions', 'locations'],
              message: `"${location}" is neither "any", a named location (namedLocations) nor a CIDR range`,
            });
          }
        });
      });
    });
    const idp = config.identityProvider;
    if (idp.clientSecret !== undefined && idp.clientSecretFile !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['identityProvider', 'clientSecret'], message: 'give either "clientSecret" or "clientSecretFile", not both' });
    }
    if (idp.ca !== undefined && idp.caFile !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['identityProvider', 'ca'], message: 'give either "ca" or "caFile", not both' });
    }
  });

/** What callers write (YAML, JSON or an object literal). */
export type GatewayConfigInput = z.input<typeof gatewayConfigSchema>;
/** Validated, defaults applied, file references still unresolved. */
export type ParsedGatewayConfig = z.output<typeof gatewayConfigSchema>;
export type ParsedAppConfig = ParsedGatewayConfig['apps'][number];

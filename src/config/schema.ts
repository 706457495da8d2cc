import { z } from 'zod';
import {
  BACKEND_TIMEOUT_DEFAULT_SECONDS,
  BACKEND_TIMEOUT_LONG_SECONDS,
  DEFAULT_CLOCK_TOLERANCE_SECONDS,
  IDP_REQUEST_TIMEOUT_SECONDS,
  MAX_CLOCK_TOLERANCE_SECONDS,
  MIN_SECRET_LENGTH,
} from '../limits.ts';
import { durationSeconds } from './duration.ts';
import { parseCidr } from '../ip/cidr.ts';
import { auditSettingsSchema } from '../audit/settings.ts';
import { riskSettingsSchema } from '../risk/settings.ts';
import { mfaSchema, namedLocationsSchema, policySchema } from './policy-schema.ts';
import { forwardingSchema } from './forwarding-schema.ts';
import { APP_ID_PATTERN, CONNECTOR_GROUP_PATTERN } from '../protocol/names.ts';

/**
 * The one schema for a gateway's configuration, used by createGateway() and by
 * `gatehouse serve --config FILE`. Values that name a file (`…File`) are read
 * by parseGatewayConfig before validation of their content.
 */

const httpsOrLoopbackHttpUrl = (what: string, example: string) =>
  z.string().superRefine((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: `must be an absolute URL, e.g. "${example}"` });
      return;
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      ctx.addIssue({ code: 'custom', message: `${what} must be an http(s) URL, e.g. "${example}"` });
    }
    if (url.username || url.password) {
      ctx.addIssue({ code: 'custom', message: `${what} must not contain credentials` });
    }
  });

const externalUrl = httpsOrLoopbackHttpUrl('the external URL', 'https://wiki.example.com').superRefine((value, ctx) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return;
  }
  if (url.pathname !== '/' || url.search || url.hash) {
    ctx.addIssue({
      code: 'custom',
      message: 'must be an origin only (scheme, host and optional port, no path), e.g. "https://wiki.example.com"',
    });
  }
  if (url.hostname.endsWith('.')) {
    // Requests are matched by host name without its trailing dot, so an app published with one could never be reached.
    ctx.addIssue({ code: 'custom', message: `must name the host without a trailing dot, e.g. "${url.protocol}//${url.host.replace(/\.(?=:\d+$|$)/, '')}"` });
  }
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    ctx.addIssue({
      code: 'custom',
      message:
        'must use https: session cookies are only safe over TLS (plain http is accepted for localhost only). Terminate TLS at the gateway or at a load balancer in front of it and write the https URL users see.',
    });
  }
});

const cidr = z.string().superRefine((value, ctx) => {
  const parsed = parseCidr(value);
  if (typeof parsed === 'string') {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} ${parsed}; write an IPv4 or IPv6 address or CIDR range, e.g. "10.0.0.0/8"` });
  }
});

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

const sessionOverrides = z.strictObject({
  persistent: z.boolean().optional(),
  maxLifetime: durationSeconds('8h').optional(),
  idleTimeout: durationSeconds('1h').optional(),
});

const RESERVED_HEADER =
  /^(?:host|cookie|x-forwarded-.*|forwarded|x-request-id|x-gatehouse-assertion|connection|upgrade|te|trailer|transfer-encoding|keep-alive|proxy-.*)$/i;

const appSchema = z.strictObject({
  id: z.string().regex(APP_ID_PATTERN, 'must be 1-63 lowercase letters, digits or dashes, e.g. "wiki"'),
  externalUrl,
  internalUrl: httpsOrLoopbackHttpUrl('the internal URL', 'http://10.0.0.5:8080'),
  preauth: z.enum(['oidc', 'passthrough']).default('oidc'),
  connectorGroup: z.string().regex(CONNECTOR_GROUP_PATTERN, 'must be 1-64 letters, digits, dots, dashes or underscores').default('default'),
  hostHeader: z.enum(['internal', 'external']).default('internal'),
  /** For an https internal URL: the CA that signs the app's certificate and the name to verify, so nobody turns verification off. */
  internalTls: z
    .strictObject({
      ca: z.string().optional(),
      caFile: z.string().min(1).optional(),
      serverName: z.string().min(1).max(253).optional(),
    })
    .optional(),
  crawlers: z.enum(['deny', 'backend']).default('deny'),
  timeouts: z
    .strictObject({
      backend: z
        .union([z.literal('default'), z.literal('long'), durationSeconds('85s')])
        .default('default')
        .transform((value) => (value === 'default' ? BACKEND_TIMEOUT_DEFAULT_SECONDS : value === 'long' ? BACKEND_TIMEOUT_LONG_SECONDS : value)),
    })
    .prefault({}),
  session: sessionOverrides.prefault({}),
  /** Conditional access: evaluated at sign-in and on every request (see docs/conditional-access.md). */
  policies: z.array(policySchema).default([]),
  /**
   * Header-based single sign-on: headers set on every forwarded request from
   * the session's claims. Client copies of these headers are always removed.
   */
  identityHeaders: z
    .record(z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'must be an HTTP header name'), z.enum(['sub', 'email', 'name', 'groups', 'amr', 'acr']))
    .default({})
    .superRefine((headers, ctx) => {
      for (const name of Object.keys(headers)) {
        if (RESERVED_HEADER.test(name)) {
          ctx.addIssue({ code: 'custom', path: [name], message: 'is a header Gatehouse sets itself (forwarding, request id, assertion)' });
        }
      }
    }),
});

const tlsFiles = z
  .strictObject({
    cert: z.string().optional(),
    certFile: z.string().min(1).optional(),
    key: z.string().optional(),
    keyFile: z.string().min(1).optional(),
  })
  .superRefine((tls, ctx) => {
    if ((tls.cert === undefined) === (tls.certFile === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of "cert" or "certFile"' });
    }
    if ((tls.key === undefined) === (tls.keyFile === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of "key" or "keyFile"' });
    }
  });

const connectorsSchema = z
  .strictObject({
    listen: z
      .strictObject({
        host: z.string().default('0.0.0.0'),
        port: z.number().int().min(0).max(65535).default(8444),
      })
      .prefault({}),
    /** The URL connectors dial, e.g. https://connect.example.com:8444; names the development certificate. */
    publicUrl: httpsOrLoopbackHttpUrl('the connector URL', 'https://connect.example.com:8444')
      .refine((value) => !URL.canParse(value) || new URL(value).protocol === 'https:', 'must be an https URL')
      .optional(),
    /** The listener's certificate. Absent: the service issues one from its connector CA (development). */
    tls: tlsFiles.optional(),
    /** Where the connector CA and the registered connectors are kept (created 0700). */
    stateDir: z.string().min(1, 'must name a directory, e.g. "/var/lib/gatehouse"'),
    renewalAge: durationSeconds('30d').default(30 * 86_400),
    certificateLifetime: durationSeconds('90d').default(90 * 86_400),
    renewalGrace: durationSeconds('10m').default(600),
    heartbeatInterval: durationSeconds('30s').default(30),
    admin: z
      .strictObject({
        /** The tenant issuer admin tokens must come from. Default: identityProvider.issuer. */
        issuer: z.string().optional(),
        audience: z.string().min(1).default('urn:gatehouse:connectors'),
        claim: z
          .string()
          .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be a claim name, e.g. "roles"')
          .default('roles'),
        value: z.string().min(1).default('admin'),
        deviceClientId: z.string().min(1).default('gatehouse-connector'),
        scope: z.string().min(1).default('openid'),
      })
      .prefault({}),
  })
  .superRefine((connectors, ctx) => {
    if (connectors.certificateLifetime <= connectors.renewalAge + connectors.renewalGrace) {
      ctx.addIssue({
        code: 'custom',
        path: ['certificateLifetime'],
        message: 'must be longer than renewalAge plus renewalGrace, so a certificate is renewed before it expires',
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
      clientSecret: z.string().min(1, 'must not be empty').optional(),
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
      })
      .prefault({}),
    /** Request headers removed before forwarding, beyond the fixed rules. */
    forwarding: forwardingSchema,
    /** The connector-facing listener: registration, configuration, renewal and tunnels. Absent: apps are reached directly. */
    connectors: connectorsSchema.optional(),
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

function isLoopbackHost(hostname: string): boolean {
  const bare = hostname.replace(/^\[|\]$/g, '');
  return bare === 'localhost' || bare.endsWith('.localhost') || bare === '::1' || /^127\.\d+\.\d+\.\d+$/.test(bare);
}

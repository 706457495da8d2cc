/** One published app in the configuration: its URLs, pre-authentication, connector group, timeouts, policies and identity headers. */
import { z } from 'zod';
import { BACKEND_TIMEOUT_DEFAULT_SECONDS, BACKEND_TIMEOUT_LONG_SECONDS } from '../limits.ts';
import { APP_ID_PATTERN, CONNECTOR_GROUP_PATTERN } from '../protocol/names.ts';
import { durationSeconds } from './duration.ts';
import { bearerSchema } from './bearer-schema.ts';
import { externalUrl, httpsOrLoopbackHttpUrl } from './field-schemas.ts';
import { policySchema } from './policy-schema.ts';
import { appStreamLimitsSchema } from './stream-limits-schema.ts';

const sessionOverrides = z.strictObject({
  persistent: z.boolean().optional(),
  maxLifetime: durationSeconds('8h').optional(),
  idleTimeout: durationSeconds('1h').optional(),
});

const RESERVED_HEADER =
  /^(?:host|cookie|x-forwarded-.*|forwarded|x-request-id|x-gatehouse-assertion|connection|upgrade|te|trailer|transfer-encoding|keep-alive|proxy-.*)$/i;

export const appSchema = z.strictObject({
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
      /** Event streams and WebSockets, once their head arrived, in place of `backend`. Absent: no idle limit. */
      stream: durationSeconds('10m').optional(),
    })
    .prefault({}),
  session: sessionOverrides.prefault({}),
  /** This app's own share of its connector group's streams and WebSocket idle timeout, in place of `limits.streams`'. */
  limits: appStreamLimitsSchema,
  /** Conditional access: evaluated at sign-in and on every request (see docs/conditional-access.md). */
  policies: z.array(policySchema).default([]),
  /** API clients: access tokens from the identity provider in `Authorization: Bearer` (see docs/api-clients.md). */
  bearer: bearerSchema.optional(),
  /**
   * Header-based single sign-on: headers set on every forwarded request from
   * the session's claims. Client copies of these headers are always removed.
   */
  identityHeaders: z
    .record(z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'must be an HTTP header name'), z.enum(['sub', 'email', 'name', 'groups', 'amr', 'acr', 'kind']))
    .default({})
    .superRefine((headers, ctx) => {
      for (const name of Object.keys(headers)) {
        if (RESERVED_HEADER.test(name)) {
          ctx.addIssue({ code: 'custom', path: [name], message: 'is a header Gatehouse sets itself (forwarding, request id, assertion)' });
        }
      }
    }),
});

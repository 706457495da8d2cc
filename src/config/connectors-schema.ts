/** The connector-facing listener in the configuration: where it listens, its certificate, the connector CA's state, certificate ages and who may register connectors. */
import { z } from 'zod';
import {
  MAX_TUNNELS_PER_CONNECTOR,
  TUNNEL_DEMAND_MAX_PER_CONNECTOR,
  TUNNEL_DEMAND_SCALE_DOWN_SECONDS,
  TUNNEL_MAX_STREAMS,
  TUNNEL_QUEUE_MAX_LENGTH,
  TUNNEL_QUEUE_MAX_WAIT_SECONDS,
} from '../limits.ts';
import { durationSeconds } from './duration.ts';
import { httpsOrLoopbackHttpUrl, tlsFiles } from './field-schemas.ts';

export const connectorsSchema = z
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
    /**
     * The URL connectors dial to reach this instance in particular, when several
     * instances share one store (each gets its own, e.g. https://gw-2.internal:8444).
     * Default: publicUrl, else the listener's address as seen by the connectors.
     */
    advertiseUrl: httpsOrLoopbackHttpUrl('the connector URL of this instance', 'https://gw-2.internal:8444')
      .refine((value) => !URL.canParse(value) || new URL(value).protocol === 'https:', 'must be an https URL')
      .optional(),
    /** The listener's certificate. Absent: the service issues one from its connector CA (development). */
    tls: tlsFiles.optional(),
    /**
     * Keys that encrypt the connector CA's private key in the store: base64 of 32
     * random bytes per line (`openssl rand -base64 32`), optionally `id:` first;
     * current key first, previous ones after. Absent: kept in clear (development).
     */
    caKey: z.string().optional(),
    caKeyFile: z.string().min(1).optional(),
    /** Where the connector CA and the registered connectors are kept (created 0700). */
    stateDir: z.string().min(1, 'must name a directory, e.g. "/var/lib/gatehouse"'),
    renewalAge: durationSeconds('30d').default(30 * 86_400),
    certificateLifetime: durationSeconds('90d').default(90 * 86_400),
    renewalGrace: durationSeconds('10m').default(600),
    heartbeatInterval: durationSeconds('30s').default(30),
    /** Streams one tunnel carries at most, and the wait for one when every tunnel of a group is at that limit. */
    tunnels: z
      .strictObject({
        maxStreams: z.number().int().min(1).max(TUNNEL_MAX_STREAMS).default(TUNNEL_MAX_STREAMS),
        /** Tunnels a connector is asked to open to one instance at most when its group's streams run short (1: never more than it brings). */
        maxPerConnector: z.number().int().min(1).max(MAX_TUNNELS_PER_CONNECTOR).default(TUNNEL_DEMAND_MAX_PER_CONNECTOR),
        /** How long a group stays quiet before its connectors are told to close the tunnels they opened on demand. */
        scaleDownAfter: durationSeconds('60s', 86_400).default(TUNNEL_DEMAND_SCALE_DOWN_SECONDS),
        queue: z
          .strictObject({
            maxLength: z.number().int().min(0).max(100_000).default(TUNNEL_QUEUE_MAX_LENGTH),
            maxWait: durationSeconds('10s', 300).default(TUNNEL_QUEUE_MAX_WAIT_SECONDS),
          })
          .prefault({}),
      })
      .prefault({}),
    admin: z
      .strictObject({
        /** The tenant issuer admin tokens must come from. Default: identityProvider.issuer. */
        issuer: z.string().optional(),
        audience: z.string().min(1).default('urn:gatehouse:connectors'),
        /** A claim name (`roles`, Auth0's `https://…/roles`), else a dotted path into the claims (Keycloak's `realm_access.roles`). */
        claim: z
          .string()
          .regex(/^[A-Za-z0-9_.:/-]{1,128}$/, 'must be a claim name or dotted path, e.g. "roles" or "realm_access.roles"')
          .default('roles'),
        value: z.string().min(1).default('admin'),
        deviceClientId: z.string().min(1).default('gatehouse-connector'),
        scope: z.string().min(1).default('openid'),
        /**
         * The RFC 8707 `resource` the device flow asks for. Default: the audience;
         * `false`: none, for providers that refuse the parameter (Microsoft Entra ID's
         * v2.0 endpoint) or take the audience from the scope instead.
         */
        resource: z.union([z.string().min(1).max(2000), z.literal(false)]).optional(),
        /**
         * Admin tokens that are not JWTs (opaque) are checked with RFC 7662 token
         * introspection, authenticated with identityProvider's client credentials.
         * `endpoint` absent: the provider's `introspection_endpoint` from discovery.
         * Absent altogether: only JWT access tokens are accepted.
         */
        introspection: z
          .strictObject({
            endpoint: httpsOrLoopbackHttpUrl('the introspection endpoint', 'https://login.example.com/oauth2/introspect')
              .refine((value) => !URL.canParse(value) || new URL(value).protocol === 'https:', 'must be an https URL: the client secret is sent to it')
              .optional(),
          })
          .optional(),
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

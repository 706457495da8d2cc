/**
 * The configuration document the service sends each connector (GET
 * /.gatehouse/connector/config and the events stream): one schema that both
 * processes share. The service builds a `ConnectorConfigDocument`; the
 * connector validates what it receives against the same schema before it
 * applies any of it. The app id and group rules are the gateway
 * configuration's own, so a document the service can build is one the
 * connector accepts.
 */
import { z } from 'zod';
import { APP_ID_PATTERN, CONNECTOR_GROUP_PATTERN } from './names.ts';

const appSchema = z.object({
  id: z.string().regex(APP_ID_PATTERN, 'must be an app id: 1-63 lowercase letters, digits or dashes'),
  /** For https apps: the CA bundle that signs the app's certificate and the name to verify. */
  tls: z
    .object({
      ca: z
        .string()
        .max(256 * 1024)
        .optional(),
      servername: z.string().min(1).max(253).optional(),
    })
    .optional(),
  internalUrl: z.string().superRefine((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be an absolute http(s) URL' });
      return;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') ctx.addIssue({ code: 'custom', message: 'must be an http(s) URL' });
    if (url.username !== '' || url.password !== '') ctx.addIssue({ code: 'custom', message: 'must not contain credentials' });
    if (url.hostname === '') ctx.addIssue({ code: 'custom', message: 'must name a host' });
  }),
});

/**
 * Unknown keys are dropped rather than refused, so a newer service can add
 * fields without breaking older connectors; every field used is checked.
 */
export const connectorConfigSchema = z.object({
  version: z.number().int().nonnegative(),
  connectorId: z.string().min(1).max(200),
  group: z.string().regex(CONNECTOR_GROUP_PATTERN, 'must be a connector group name'),
  apps: z
    .array(appSchema)
    .max(10_000)
    .superRefine((apps, ctx) => {
      const seen = new Set<string>();
      apps.forEach((app, index) => {
        if (seen.has(app.id)) ctx.addIssue({ code: 'custom', message: `app id "${app.id}" appears twice`, path: [index, 'id'] });
        seen.add(app.id);
      });
    }),
  heartbeatIntervalSeconds: z.number().int().min(1).max(3600),
  /**
   * The gateway instances sharing the service's store, each with the URL that
   * reaches it in particular: the connector keeps its tunnels to every one.
   * Absent (an older service) or a single instance: tunnels go to the URL the
   * connector registered with.
   */
  instances: z
    .array(
      z.object({
        id: z.string().min(1).max(100),
        url: z.url({ protocol: /^https$/ }),
      }),
    )
    .max(1000)
    .optional(),
  /**
   * True when the service's tunnel sessions go on reading their connection
   * while one of their own writes waits. The connector may then run its HTTP/2
   * session straight on a TLS connection (which stops reading while it
   * writes): one end that keeps reading is enough to keep a tunnel busy both
   * ways from deadlocking. Absent (an older service) or false: the connector
   * keeps reading itself, through its write-ahead stream.
   */
  tunnelReadsWhileWriting: z.boolean().optional(),
  renewal: z.object({
    ageSeconds: z.number().int().positive(),
    issuedAt: z.iso.datetime({ offset: true }),
    due: z.boolean(),
  }),
});

export type ConnectorConfigDocument = z.input<typeof connectorConfigSchema>;

/**
 * The `instances` event's data: the live instances' ids, so that a connector
 * whose list already matches (it pulled a moment ago, or the change reached it
 * through another instance) need not pull again. `ids` is absent from an
 * older service's event: then the connector pulls.
 */
export const instancesEventSchema = z.object({
  count: z.number().int().min(0),
  ids: z.array(z.string().min(1).max(100)).max(1000).optional(),
});

export type InstancesEvent = z.infer<typeof instancesEventSchema>;

export function instancesEvent(instances: ReadonlyArray<{ readonly id: string }>): InstancesEvent {
  return { count: instances.length, ids: instances.map(({ id }) => id) };
}

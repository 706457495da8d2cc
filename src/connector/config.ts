/**
 * The configuration the connector applies (as in cloudflared
 * `orchestrator.go` `UpdateConfig`): each document from the service is
 * validated whole, the new allow-list is built before anything changes, and
 * then one reference is swapped, so a reader sees the old configuration or
 * the new one and never a mix. Versions at or below the current one are
 * ignored: an answer that arrives late must not undo a newer one.
 *
 * The allow-list (app id → internal URL) is what the tunnel consults before
 * it opens any connection: an app that is not in it is refused.
 */
import { z } from 'zod';
import { ConnectorError } from './errors.ts';

const appSchema = z.object({
  id: z.string().min(1).max(200),
  /** For https apps: the CA bundle that signs the app's certificate and the name to verify. */
  tls: z
    .object({
      ca: z.string().max(256 * 1024).optional(),
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

// Unknown keys are dropped rather than refused, so a newer service can add
// fields without breaking older connectors; every field we use is checked.
export const connectorConfigSchema = z.object({
  version: z.number().int().nonnegative(),
  connectorId: z.string().min(1).max(200),
  group: z.string().min(1).max(200),
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
  renewal: z.object({
    ageSeconds: z.number().int().positive(),
    issuedAt: z.iso.datetime({ offset: true }),
    due: z.boolean(),
  }),
});

export interface AllowedApp {
  readonly id: string;
  /** Normalised (`new URL(...).href`). */
  readonly internalUrl: string;
  readonly protocol: 'http:' | 'https:';
  readonly hostname: string;
  readonly port: number;
  readonly tls?: { readonly ca?: string; readonly servername?: string };
}

export interface AppliedConfig {
  readonly version: number;
  readonly connectorId: string;
  readonly group: string;
  readonly apps: ReadonlyMap<string, AllowedApp>;
  readonly heartbeatIntervalSeconds: number;
  readonly renewal: { readonly ageSeconds: number; readonly issuedAt: string; readonly due: boolean };
}

/**
 * `received` is the document just validated, applied or not: its `renewal`
 * part is worth reading even when its version is old, since renewal becomes
 * due with time and not with a new version.
 */
export type ApplyResult =
  | { readonly applied: true; readonly config: AppliedConfig; readonly received: AppliedConfig; readonly previous: AppliedConfig | undefined }
  | { readonly applied: false; readonly config: AppliedConfig; readonly received: AppliedConfig };

function renderPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out ? `.${String(part)}` : String(part);
  return out || '(root)';
}

function toAllowedApp(id: string, internalUrl: string, tls: AllowedApp['tls']): AllowedApp {
  const url = new URL(internalUrl);
  const protocol = url.protocol as 'http:' | 'https:';
  return Object.freeze({
    id,
    internalUrl: url.href,
    protocol,
    hostname: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port === '' ? (protocol === 'https:' ? 443 : 80) : Number(url.port),
    ...(tls ? { tls: Object.freeze({ ...tls }) } : {}),
  });
}

/** Validates a configuration document whole; throws ERR_CONFIG_INVALID listing every problem. */
export function parseConnectorConfig(raw: unknown, expectedConnectorId?: string): AppliedConfig {
  const parsed = connectorConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${renderPath(issue.path)}: ${issue.message}`);
    throw new ConnectorError('ERR_CONFIG_INVALID', `The configuration from the service is not valid, so none of it was applied: ${issues.join('; ')}`, {
      reason: 'schema',
    });
  }
  const document = parsed.data;
  if (expectedConnectorId !== undefined && document.connectorId !== expectedConnectorId) {
    throw new ConnectorError(
      'ERR_CONFIG_INVALID',
      `The service sent the configuration of connector ${document.connectorId}, but this is ${expectedConnectorId}; it was not applied.`,
      { reason: 'other_connector' },
    );
  }
  const apps = new Map(document.apps.map((app) => [app.id, toAllowedApp(app.id, app.internalUrl, app.tls)]));
  return Object.freeze({
    version: document.version,
    connectorId: document.connectorId,
    group: document.group,
    apps,
    heartbeatIntervalSeconds: document.heartbeatIntervalSeconds,
    renewal: Object.freeze({ ...document.renewal }),
  });
}

/** Holds the applied configuration; the one place that swaps it. */
export class ConnectorConfigStore {
  readonly #connectorId: string | undefined;
  #current: AppliedConfig | undefined;

  /** `connectorId`: documents for any other connector are refused. */
  constructor(connectorId?: string) {
    this.#connectorId = connectorId;
  }

  get current(): AppliedConfig | undefined {
    return this.#current;
  }

  /** The last applied version, -1 before the first. */
  get version(): number {
    return this.#current?.version ?? -1;
  }

  /**
   * Applies a document from the service if it is valid and newer than the
   * current one. An invalid document throws and changes nothing.
   */
  apply(raw: unknown): ApplyResult {
    const next = parseConnectorConfig(raw, this.#connectorId);
    const previous = this.#current;
    if (previous !== undefined && next.version <= previous.version) {
      return { applied: false, config: previous, received: next };
    }
    this.#current = next;
    return { applied: true, config: next, received: next, previous };
  }

  /** The allow-list check: the app's internal URL if this connector may reach it, else undefined. */
  allowedApp(appId: string): AllowedApp | undefined {
    return this.#current?.apps.get(appId);
  }
}

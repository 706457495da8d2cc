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
 *
 * The list of gateway instances is the one part of the configuration that
 * changes without a new version (instances come and go on their own): it is
 * taken from every valid document of the current version too, and whoever
 * keeps the tunnels is told. So is what the service says of its own tunnel
 * sessions, which changes with the service's code, not its configuration.
 */
import { connectorConfigSchema } from '../protocol/config-document.ts';
import { ConnectorError } from '../errors/connector-error.ts';

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
  /** The gateway instances to keep tunnels to; undefined: the service did not say (tunnels go to the registered URL). */
  readonly instances: readonly GatewayInstanceRef[] | undefined;
  /** The service's tunnel sessions keep reading while they write (false when it did not say): see `sessionOnSocket`. */
  readonly tunnelReadsWhileWriting: boolean;
}

export interface GatewayInstanceRef {
  readonly id: string;
  readonly url: string;
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
    instances: document.instances ? Object.freeze(document.instances.map(({ id, url }) => Object.freeze({ id, url }))) : undefined,
    tunnelReadsWhileWriting: document.tunnelReadsWhileWriting === true,
  });
}

/** Holds the applied configuration; the one place that swaps it. */
export class ConnectorConfigStore {
  readonly #connectorId: string | undefined;
  readonly #instanceListeners = new Set<(instances: AppliedConfig['instances']) => void>();
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
      // What the service says of its tunnel sessions follows its code, not the configuration's version: an upgraded
      // service keeps its stored version.
      const instancesChanged = !sameInstances(next.instances, previous.instances);
      if (next.version === previous.version && (instancesChanged || next.tunnelReadsWhileWriting !== previous.tunnelReadsWhileWriting)) {
        this.#current = Object.freeze({ ...previous, instances: next.instances, tunnelReadsWhileWriting: next.tunnelReadsWhileWriting });
        if (instancesChanged) this.#instancesChanged();
      }
      return { applied: false, config: this.#current ?? previous, received: next };
    }
    this.#current = next;
    if (!sameInstances(next.instances, previous?.instances) || previous === undefined) this.#instancesChanged();
    return { applied: true, config: next, received: next, previous };
  }

  /** Called with the instance list each time it changes (the first configuration included). Returns the function that stops it. */
  onInstances(listener: (instances: AppliedConfig['instances']) => void): () => void {
    this.#instanceListeners.add(listener);
    return () => this.#instanceListeners.delete(listener);
  }

  #instancesChanged(): void {
    for (const listener of [...this.#instanceListeners]) listener(this.#current?.instances);
  }

  /** The allow-list check: the app's internal URL if this connector may reach it, else undefined. */
  allowedApp(appId: string): AllowedApp | undefined {
    return this.#current?.apps.get(appId);
  }
}

function sameInstances(a: AppliedConfig['instances'], b: AppliedConfig['instances']): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((instance, index) => instance.id === b[index]?.id && instance.url === b[index]?.url);
}

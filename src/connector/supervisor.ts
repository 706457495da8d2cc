/**
 * `gatehouse-connector run`: the connector's life, composed of three parts
 * with one job each, which report what happens as typed events:
 *
 * - the config puller keeps the configuration current (config-puller.ts);
 * - the certificate renewer renews the certificate when due (certificate-renewer.ts);
 * - the link supervisor keeps the control channel and the tunnels alive (link-supervisor.ts).
 *
 * Any of them can meet a failure that retrying cannot fix (the certificate
 * refused, the connector revoked); each hands it to the same `fail`, which
 * stops the connector once, with the first reason: whichever link hears the
 * refusal first, the connector stops with that one error.
 */
import type { Registry } from 'prom-client';
import { systemClock, type Clock } from '../clock.ts';
import { RECONNECT_BASE_MS, RECONNECT_CAP_MS, STABLE_CONNECTION_MS, TUNNELS_PER_CONNECTOR } from '../limits.ts';
import { createLogger, type Logger } from '../logging/logger.ts';
import { connectorMetrics } from '../metrics/connector-metrics.ts';
import { parseAllowOption } from './allow-list.ts';
import { CertificateRenewer } from './certificate-renewer.ts';
import { ConfigPuller } from './config-puller.ts';
import { ConnectorConfigStore } from './config.ts';
import { ConnectorEvents, stopReasonFor, type StopReason } from './connector-events.ts';
import { writeConnectorLog } from './connector-log.ts';
import { createControlLink } from './control-link.ts';
import { createTunnelLink } from './data-link.ts';
import type { ConnectorError } from '../errors/connector-error.ts';
import type { ConnectorLink } from './link.ts';
import type { TunnelTransport } from './link-dialer.ts';
import { InstanceTunnels } from './instance-tunnels.ts';
import { LinkSupervisor, type ReconnectPolicy } from './link-supervisor.ts';
import type { OutboundProxySettings } from './proxy-settings.ts';
import { ServiceClient } from './service-client.ts';
import { loadState, readAllowList, removeStaleTempFiles, writeAllowList } from './state.ts';

export type { ReconnectPolicy } from './link-supervisor.ts';

/** Options of `runConnector()` (the flags of `gatehouse-connector run`). */
export interface RunConnectorOptions {
  readonly stateDir: string;
  /** pino logger; default silent. */
  readonly log?: Logger;
  /** Short lines for a person watching (the CLI prints them on stderr). */
  readonly progress?: (line: string) => void;
  /** Where the connector reports what happens; listen before calling runConnector. Default: a private one. */
  readonly events?: ConnectorEvents;
  /** Stops the connector cleanly: runConnector then resolves. */
  readonly signal?: AbortSignal;
  readonly clock?: Clock;
  /** Uniform in [0, 1), for the backoff's jitter. */
  readonly random?: () => number;
  readonly reconnect?: Partial<ReconnectPolicy>;
  /** Data-plane tunnels kept open (default TUNNELS_PER_CONNECTOR); 0 for a control channel only. */
  readonly tunnels?: number;
  /** How tunnels reach the service: TLS with ALPN (default) or the WebSocket fallback. */
  readonly transport?: TunnelTransport;
  /** More links to keep alive beside the control channel and the tunnels. */
  readonly links?: readonly ConnectorLink[];
  /** RSA size of renewed keys; default that of createKeyAndCsr. */
  readonly keyBits?: number;
  /**
   * A local allow-list of targets (`--allow`: CIDR, address or host name,
   * each with an optional `:port`). Replaces the one in the state directory
   * and is kept there; absent: the state directory's, if any.
   */
  readonly allow?: readonly string[];
  /** Where the connector's metrics (`gatehouse_connector_…`) are registered, e.g. for `--metrics-address`. Default: none kept. */
  readonly metrics?: Registry;
  /** The outbound proxy for every call and tunnel (proxy-settings.ts resolveProxySettings); default: direct. */
  readonly proxy?: OutboundProxySettings;
}

/**
 * Runs until `signal` aborts (resolves) or a failure that retrying cannot
 * fix (rejects with a ConnectorError saying what to do). Emits `stopped`
 * last, either way.
 */
export async function runConnector(options: RunConnectorOptions): Promise<void> {
  const log = options.log ?? createLogger();
  const events = options.events ?? new ConnectorEvents();
  const policy: ReconnectPolicy = {
    baseMs: options.reconnect?.baseMs ?? RECONNECT_BASE_MS,
    capMs: options.reconnect?.capMs ?? RECONNECT_CAP_MS,
    stableMs: options.reconnect?.stableMs ?? STABLE_CONNECTION_MS,
  };
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const { stateDir } = options;
  const given = options.allow === undefined ? undefined : parseAllowOption(options.allow);

  const state = await loadState(stateDir, { repair: true });
  await removeStaleTempFiles(stateDir);
  if (given) await writeAllowList(stateDir, given);
  const allowList = given ?? (await readAllowList(stateDir));
  const { record } = state;
  const client = new ServiceClient({
    serviceUrl: record.serviceUrl,
    identity: state.identity,
    ...(state.serviceCaPem !== undefined ? { ca: state.serviceCaPem } : {}),
    ...(options.proxy !== undefined ? { proxy: options.proxy } : {}),
  });

  // The one way to stop: the first reason wins, later ones (another link
  // hearing the same refusal a moment later) change nothing.
  const stop = new AbortController();
  let stopReason: StopReason | undefined;
  const stopWith = (reason: StopReason): void => {
    if (stopReason !== undefined) return;
    stopReason = reason;
    stop.abort();
  };
  const fail = (error: ConnectorError): void => stopWith(stopReasonFor(error));
  const onOuterAbort = (): void => stopWith({ kind: 'requested' });
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  if (options.signal?.aborted) onOuterAbort();

  const removeLog = writeConnectorLog(events, log, options.progress ?? ((): void => undefined));
  const metrics = options.metrics ? connectorMetrics(options.metrics) : undefined;
  const removeMetrics = metrics?.attach(events, { connectorId: record.connectorId, group: record.group, certPem: state.identity.certPem });
  const store = new ConnectorConfigStore(record.connectorId);
  const links = new LinkSupervisor({ client, config: store, events, log, policy, signal: stop.signal, fail, clock, random });
  const renewer = new CertificateRenewer({
    client,
    stateDir,
    connectorId: record.connectorId,
    events,
    signal: stop.signal,
    restartLinks: () => links.restart(),
    fail,
    retryCapMs: policy.capMs,
    random,
    log,
    ...(options.keyBits !== undefined ? { keyBits: options.keyBits } : {}),
  });
  const puller = new ConfigPuller({
    client,
    store,
    stateDir,
    record,
    allowList,
    events,
    signal: stop.signal,
    renewalDue: (trigger) => renewer.request(trigger),
    fail,
    clock,
  });

  try {
    events.emit('starting', {
      connectorId: record.connectorId,
      group: record.group,
      serviceUrl: record.serviceUrl,
      stateDir,
      allowList: allowList?.texts,
    });
    const control = createControlLink({
      pullConfig: (signal) => puller.pull(signal),
      renewalRequested: () => renewer.request('service_event'),
      // The tunnels are made below; the stream's first event comes after both exist.
      tunnelsWanted: (event) => tunnels.want(event),
    });
    const transport = options.transport ?? 'tls';
    const tunnels = new InstanceTunnels({
      supervisor: links,
      config: store,
      count: options.tunnels ?? TUNNELS_PER_CONNECTOR,
      makeLink: (index, instance) =>
        createTunnelLink({
          index,
          transport,
          ...(allowList ? { allowList } : {}),
          ...(instance ? { instance } : {}),
          ...(metrics ? { observer: metrics.streams } : {}),
        }),
      log,
    });
    await Promise.all([links.run([control, ...(options.links ?? [])]), tunnels.run(stop.signal)]);
    await renewer.settled();
  } finally {
    puller.close();
    options.signal?.removeEventListener('abort', onOuterAbort);
    client.close();
  }
  const reason = stopReason ?? { kind: 'requested' };
  try {
    events.emit('stopped', { reason });
  } finally {
    removeMetrics?.();
    removeLog();
  }
  if (reason.kind !== 'requested') throw reason.error;
}

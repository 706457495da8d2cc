/**
 * `gatehouse-connector run`: keeps the connector's links to the service alive
 * (cloudflared `supervisor/`), keeps its configuration current, renews its
 * certificate when due, and decides what each failure means:
 *
 * - network errors, timeouts, 5xx: reconnect with exponential backoff and full
 *   jitter, capped, reset after a stable period;
 * - the certificate refused (401) or the connector revoked: stop with the
 *   operator's next step — retrying cannot help;
 * - a renewal that failed for a transient reason: retry with backoff while
 *   the current certificate keeps working.
 */
import { isIP } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { systemClock, type Clock } from '../clock.ts';
import { createLogger, type Logger } from '../logging/logger.ts';
import { createBackoff } from '../backoff.ts';
import { ConnectorConfigStore, type AppliedConfig } from './config.ts';
import { createControlLink } from './control-link.ts';
import { parseAllowOption, type TargetAllowList } from './allow-list.ts';
import { ConnectorError, isConnectorError } from './errors.ts';
import {
  CONFIG_REFRESH_INTERVAL_MS,
  RECONNECT_BASE_MS,
  RECONNECT_CAP_MS,
  RENEWAL_RETRY_BASE_MS,
  STABLE_CONNECTION_MS,
  TUNNELS_PER_CONNECTOR,
} from '../limits.ts';
import type { ConnectorLink } from './link.ts';
import type { TunnelTransport } from './link-dialer.ts';
import { createTunnelLink } from './data-link.ts';
import { CONFIG_PATH } from '../protocol/connector-api.ts';
import { renewCertificate } from './renew.ts';
import { ServiceClient } from './service-client.ts';
import { loadState, readAllowList, removeStaleTempFiles, writeAllowList, writeRecord, type ConnectorRecord } from './state.ts';

export interface ReconnectPolicy {
  readonly baseMs: number;
  readonly capMs: number;
  /** A link up at least this long resets its backoff. */
  readonly stableMs: number;
}

export interface RunConnectorOptions {
  readonly stateDir: string;
  /** pino logger; default silent. */
  readonly log?: Logger;
  /** Short lines for a person watching (the CLI prints them on stderr). */
  readonly progress?: (line: string) => void;
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
}

// The abort reason that means "reconnect now, with the new certificate".
const RESTART = Symbol('restart');

function describeError(error: unknown): { code: string; reason: string; message: string } {
  if (isConnectorError(error)) return { code: error.code, reason: error.reason, message: error.message };
  return { code: 'ERR_UNEXPECTED', reason: 'unexpected', message: error instanceof Error ? error.message : String(error) };
}

function appsSummary(config: AppliedConfig): string {
  const ids = [...config.apps.keys()];
  if (ids.length === 0) return 'no apps';
  const shown = ids.slice(0, 5).join(', ');
  return `${ids.length} app${ids.length === 1 ? '' : 's'} (${shown}${ids.length > 5 ? ', …' : ''})`;
}

function describeAllowList(allowList: TargetAllowList | undefined): string {
  if (!allowList) return 'no allow-list: this connector dials whatever internal URL the service configures (set one with --allow)';
  const shown = allowList.texts.slice(0, 5).join(', ');
  return `allow-list: ${shown}${allowList.entries.length > 5 ? `, … (${allowList.entries.length} entries)` : ''}`;
}

/** Says at once which apps of a new configuration the allow-list will refuse, rather than at their first request. */
function warnOutsideAllowList(config: AppliedConfig, allowList: TargetAllowList, log: Logger, progress: (line: string) => void): void {
  for (const app of config.apps.values()) {
    if (allowList.allowsHost(app.hostname, app.port)) continue;
    // A host name may still resolve inside an allowed network; that is decided when it is dialled.
    if (isIP(app.hostname) === 0) continue;
    log.warn(
      { app: app.id, target: `${app.hostname}:${app.port}` },
      "the configuration names an app outside the connector's allow-list; its streams will be refused",
    );
    progress(`app ${app.id}: its internal address is outside the allow-list; requests to it will be refused`);
  }
}

/**
 * Runs until `signal` aborts (resolves) or a failure that retrying cannot
 * fix (rejects with a ConnectorError saying what to do).
 */
export async function runConnector(options: RunConnectorOptions): Promise<void> {
  const log = options.log ?? createLogger();
  const progress = options.progress ?? ((): void => undefined);
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const policy: ReconnectPolicy = {
    baseMs: options.reconnect?.baseMs ?? RECONNECT_BASE_MS,
    capMs: options.reconnect?.capMs ?? RECONNECT_CAP_MS,
    stableMs: options.reconnect?.stableMs ?? STABLE_CONNECTION_MS,
  };
  const { stateDir } = options;
  const given = options.allow === undefined ? undefined : parseAllowOption(options.allow);

  const state = await loadState(stateDir, { repair: true });
  await removeStaleTempFiles(stateDir);
  if (given) await writeAllowList(stateDir, given);
  const allowList = given ?? (await readAllowList(stateDir));
  let record: ConnectorRecord = state.record;
  const { connectorId } = record;
  const client = new ServiceClient({
    serviceUrl: record.serviceUrl,
    identity: state.identity,
    ...(state.serviceCaPem !== undefined ? { ca: state.serviceCaPem } : {}),
  });
  const store = new ConnectorConfigStore(connectorId);
  const stop = new AbortController();
  let fatal: ConnectorError | undefined;
  const failFatal = (error: ConnectorError): void => {
    fatal ??= error;
    stop.abort();
  };
  const onOuterAbort = (): void => stop.abort();
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  if (options.signal?.aborted) stop.abort();

  log.info({ connectorId, group: record.group, serviceUrl: record.serviceUrl, stateDir, allowList: allowList?.texts ?? null }, 'connector starting');
  progress(`connector ${connectorId} (group ${record.group}) connecting to ${record.serviceUrl}`);
  progress(describeAllowList(allowList));

  // ---- configuration -------------------------------------------------------
  let refreshTimer: NodeJS.Timeout | undefined;
  let pullChain: Promise<void> = Promise.resolve();

  const scheduleRefresh = (received: AppliedConfig): void => {
    clearTimeout(refreshTimer);
    if (stop.signal.aborted) return;
    // Pull again when the certificate becomes due by our clock (the service's
    // `renew` event is the main signal; this covers a lost one), and at least hourly.
    const dueAt = Date.parse(received.renewal.issuedAt) + received.renewal.ageSeconds * 1000;
    const untilDue = received.renewal.due ? CONFIG_REFRESH_INTERVAL_MS : Math.max(1000, dueAt - clock() + 1000);
    refreshTimer = setTimeout(
      () => {
        pull(stop.signal).catch((error: unknown) => {
          if (isConnectorError(error) && !error.retryable && error.code !== 'ERR_ABORTED') failFatal(error);
          else if (!stop.signal.aborted) log.warn(describeError(error), 'scheduled configuration pull failed');
        });
      },
      Math.min(CONFIG_REFRESH_INTERVAL_MS, untilDue),
    );
  };

  const applyPulled = async (raw: unknown): Promise<void> => {
    let result;
    try {
      result = store.apply(raw);
    } catch (error) {
      if (!isConnectorError(error) || error.code !== 'ERR_CONFIG_INVALID') throw error;
      log.error({ code: error.code, reason: error.reason, version: store.version }, error.message);
      progress(`configuration refused, keeping version ${store.version}: ${error.message}`);
      // Without any configuration there is nothing to keep: try again later.
      if (store.current === undefined) throw new ConnectorError('ERR_CONFIG_INVALID', error.message, { reason: error.reason, retryable: true });
      return;
    }
    if (result.applied) {
      const { config } = result;
      if (config.group !== record.group) {
        // Moved by an administrator: keep connector.json truthful for `status`.
        log.info({ from: record.group, to: config.group }, 'moved to another connector group');
        record = { ...record, group: config.group };
        await writeRecord(stateDir, record);
      }
      log.info({ version: config.version, group: config.group, apps: [...config.apps.keys()] }, 'configuration applied');
      progress(`configuration version ${config.version} applied: ${appsSummary(config)} for group ${config.group}`);
      if (allowList) warnOutsideAllowList(config, allowList, log, progress);
    } else {
      log.debug({ version: result.received.version, current: store.version }, 'configuration not newer; ignored');
    }
    if (result.received.renewal.due) requestRenewal('the service says the certificate is due');
    scheduleRefresh(result.received);
  };

  // Serialised: an older answer must never be applied after a newer one (the
  // store ignores it anyway) and two pulls at once would only waste a call.
  const pull = (signal: AbortSignal): Promise<void> => {
    const next = pullChain.then(async () => {
      const raw = await client.call({ method: 'GET', path: CONFIG_PATH, signal });
      await applyPulled(raw);
    });
    pullChain = next.catch(() => undefined);
    return next;
  };

  // ---- renewal -------------------------------------------------------------
  let renewing: Promise<void> | undefined;
  const renewBackoff = createBackoff({ baseMs: RENEWAL_RETRY_BASE_MS, capMs: Math.max(RENEWAL_RETRY_BASE_MS, policy.capMs), random });

  const renewLoop = async (): Promise<void> => {
    while (!stop.signal.aborted) {
      try {
        const result = await renewCertificate({
          client,
          stateDir,
          connectorId,
          log,
          signal: stop.signal,
          ...(options.keyBits !== undefined ? { keyBits: options.keyBits } : {}),
        });
        renewBackoff.reset();
        // Links are marked for a restart before the old connections are cut,
        // so that cutting them reads as "reconnect now", not as a failure.
        restartLinks();
        client.setIdentity(result.identity);
        progress(`certificate renewed; valid until ${result.notAfter}`);
        return;
      } catch (error) {
        if (stop.signal.aborted) return;
        if (isConnectorError(error) && error.code === 'ERR_RENEWAL_NOT_DUE') {
          log.info({ dueAt: error.service?.dueAt ?? null }, 'renewal not due yet');
          return;
        }
        if (isConnectorError(error) && !error.retryable) {
          failFatal(error);
          return;
        }
        // Transient, or a local failure (disk full) after which the service
        // still accepts the previous certificate for its grace period.
        const delayMs = renewBackoff.next();
        log.warn({ ...describeError(error), delayMs, attempt: renewBackoff.attempt }, 'renewal failed; will retry');
        progress(`certificate renewal failed (${describeError(error).message}); retrying in ${(delayMs / 1000).toFixed(1)} s`);
        await sleep(delayMs, undefined, { signal: stop.signal }).catch(() => undefined);
      }
    }
  };

  function requestRenewal(why: string): void {
    if (renewing !== undefined || stop.signal.aborted) return;
    log.info({ why }, 'certificate renewal due');
    progress(`certificate renewal due (${why}); renewing`);
    renewing = renewLoop().finally(() => {
      renewing = undefined;
    });
  }

  // ---- links ---------------------------------------------------------------
  const runs = new Set<AbortController>();
  function restartLinks(): void {
    for (const run of runs) run.abort(RESTART);
  }

  const keepAlive = async (link: ConnectorLink): Promise<void> => {
    const backoff = createBackoff({ baseMs: policy.baseMs, capMs: policy.capMs, random });
    const linkLog = log.child({ link: link.name });
    while (!stop.signal.aborted) {
      const run = new AbortController();
      const onStop = (): void => run.abort();
      stop.signal.addEventListener('abort', onStop, { once: true });
      runs.add(run);
      let establishedAt: number | undefined;
      let failure: unknown;
      try {
        await link.run({
          signal: run.signal,
          client,
          config: store,
          log: linkLog,
          established: () => {
            establishedAt = clock();
            progress(backoff.attempt > 0 ? `${link.name} link connected again` : `${link.name} link connected`);
          },
        });
      } catch (error) {
        failure = error;
      } finally {
        runs.delete(run);
        stop.signal.removeEventListener('abort', onStop);
      }
      if (stop.signal.aborted) return;
      if (run.signal.reason === RESTART) {
        linkLog.info('reconnecting with the new certificate');
        continue;
      }
      if (isConnectorError(failure) && !failure.retryable) {
        failFatal(failure);
        return;
      }
      if (establishedAt !== undefined && clock() - establishedAt >= policy.stableMs) backoff.reset();
      const delayMs = backoff.next();
      const what =
        failure === undefined ? { code: 'closed', reason: 'closed_by_service', message: 'the service closed the connection' } : describeError(failure);
      if (failure !== undefined && !isConnectorError(failure)) linkLog.error({ err: failure }, 'unexpected failure');
      linkLog.warn({ code: what.code, reason: what.reason, delayMs, attempt: backoff.attempt }, `link down: ${what.message}`);
      progress(`${link.name} link down (${what.message}); reconnecting in ${(delayMs / 1000).toFixed(1)} s`);
      await sleep(delayMs, undefined, { signal: stop.signal }).catch(() => undefined);
    }
  };

  const control = createControlLink({
    pullConfig: (signal) => pull(signal),
    renewalRequested: () => requestRenewal('the service asked for it'),
  });

  try {
    const tunnels = Array.from({ length: options.tunnels ?? TUNNELS_PER_CONNECTOR }, (_, index) =>
      createTunnelLink({ index: index + 1, transport: options.transport ?? 'tls', ...(allowList ? { allowList } : {}) }),
    );
    await Promise.all([control, ...tunnels, ...(options.links ?? [])].map((link) => keepAlive(link)));
    await renewing;
  } finally {
    clearTimeout(refreshTimer);
    options.signal?.removeEventListener('abort', onOuterAbort);
    client.close();
  }
  if (fatal) {
    log.error({ code: fatal.code, reason: fatal.reason }, fatal.message);
    throw fatal;
  }
  log.info({ connectorId }, 'connector stopped');
}

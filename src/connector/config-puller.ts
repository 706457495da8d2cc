/**
 * Keeps the connector's configuration current: pulls it from the service
 * (the control link asks at connect and on each `config` event; a timer asks
 * when renewal becomes due by this host's clock, and at least hourly), applies
 * it to the store, keeps connector.json's group truthful, and says when the
 * certificate is due.
 */
import { isIP } from 'node:net';
import { systemClock, type Clock } from '../clock.ts';
import { CONFIG_REFRESH_INTERVAL_MS } from '../limits.ts';
import { CONFIG_PATH } from '../protocol/connector-api.ts';
import type { TargetAllowList } from './allow-list.ts';
import type { AppliedConfig, ConnectorConfigStore } from './config.ts';
import { describeFailure, type AppOutsideAllowList, type ConnectorEvents, type RenewalTrigger } from './connector-events.ts';
import { ConnectorError, isConnectorError } from '../errors/connector-error.ts';
import type { ServiceClient } from './service-client.ts';
import { writeRecord, type ConnectorRecord } from './state.ts';

export interface ConfigPullerOptions {
  readonly client: ServiceClient;
  readonly store: ConnectorConfigStore;
  readonly stateDir: string;
  readonly record: ConnectorRecord;
  readonly allowList: TargetAllowList | undefined;
  readonly events: ConnectorEvents;
  /** Aborted when the connector stops: no pull is scheduled after that. */
  readonly signal: AbortSignal;
  /** The service says the certificate is due. */
  readonly renewalDue: (trigger: RenewalTrigger) => void;
  /** A scheduled pull failed in a way retrying cannot fix: the connector stops. */
  readonly fail: (error: ConnectorError) => void;
  readonly clock?: Clock;
}

/** Says at once which apps of a new configuration the allow-list will refuse, rather than at their first request. */
function outsideAllowList(config: AppliedConfig, allowList: TargetAllowList | undefined): AppOutsideAllowList[] {
  if (!allowList) return [];
  const outside: AppOutsideAllowList[] = [];
  for (const app of config.apps.values()) {
    if (allowList.allowsHost(app.hostname, app.port)) continue;
    // A host name may still resolve inside an allowed network; that is decided when it is dialled.
    if (isIP(app.hostname) === 0) continue;
    outside.push({ appId: app.id, target: `${app.hostname}:${app.port}` });
  }
  return outside;
}

export class ConfigPuller {
  readonly #options: ConfigPullerOptions;
  readonly #clock: Clock;
  #record: ConnectorRecord;
  #chain: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;

  constructor(options: ConfigPullerOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#record = options.record;
  }

  /**
   * Pulls and applies the configuration; rejects with a ConnectorError.
   * Serialised: an older answer must never be applied after a newer one (the
   * store ignores it anyway) and two pulls at once would only waste a call.
   */
  pull(signal: AbortSignal): Promise<void> {
    const next = this.#chain.then(async () => {
      const raw = await this.#options.client.call({ method: 'GET', path: CONFIG_PATH, signal });
      await this.#apply(raw);
    });
    this.#chain = next.catch(() => undefined);
    return next;
  }

  /** Cancels the scheduled pull. */
  close(): void {
    clearTimeout(this.#timer);
  }

  async #apply(raw: unknown): Promise<void> {
    const { store, events } = this.#options;
    let result;
    try {
      result = store.apply(raw);
    } catch (error) {
      if (!isConnectorError(error) || error.code !== 'ERR_CONFIG_INVALID') throw error;
      events.emit('configRefused', { error, keptVersion: store.version });
      // Without any configuration there is nothing to keep: try again later.
      if (store.current === undefined) throw new ConnectorError('ERR_CONFIG_INVALID', error.message, { reason: error.reason, retryable: true });
      return;
    }
    if (result.applied) {
      const { config } = result;
      if (config.group !== this.#record.group) {
        // Moved by an administrator: keep connector.json truthful for `status`.
        events.emit('groupMoved', { from: this.#record.group, to: config.group });
        this.#record = { ...this.#record, group: config.group };
        await writeRecord(this.#options.stateDir, this.#record);
      }
      events.emit('configApplied', {
        version: config.version,
        group: config.group,
        apps: [...config.apps.keys()],
        outsideAllowList: outsideAllowList(config, this.#options.allowList),
      });
    } else {
      events.emit('configIgnored', { version: result.received.version, current: store.version });
    }
    if (result.received.renewal.due) this.#options.renewalDue('config_due');
    this.#schedule(result.received);
  }

  #schedule(received: AppliedConfig): void {
    clearTimeout(this.#timer);
    const { signal } = this.#options;
    if (signal.aborted) return;
    // Pull again when the certificate becomes due by our clock (the service's
    // `renew` event is the main signal; this covers a lost one), and at least hourly.
    const dueAt = Date.parse(received.renewal.issuedAt) + received.renewal.ageSeconds * 1000;
    const untilDue = received.renewal.due ? CONFIG_REFRESH_INTERVAL_MS : Math.max(1000, dueAt - this.#clock() + 1000);
    this.#timer = setTimeout(
      () => {
        this.pull(signal).catch((error: unknown) => {
          if (isConnectorError(error) && !error.retryable && error.code !== 'ERR_ABORTED') this.#options.fail(error);
          else if (!signal.aborted) this.#options.events.emit('configPullFailed', { failure: describeFailure(error) });
        });
      },
      Math.min(CONFIG_REFRESH_INTERVAL_MS, untilDue),
    );
  }
}

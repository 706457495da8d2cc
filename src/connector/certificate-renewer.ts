/**
 * Renews the connector's certificate when the service says it is due, one
 * renewal at a time. A renewal that failed for a transient reason is retried
 * with backoff while the current certificate keeps working; one the service
 * refuses stops the connector. Once renewed, the links reconnect with the new
 * certificate.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createBackoff, type Backoff } from '../backoff.ts';
import { RENEWAL_RETRY_BASE_MS } from '../limits.ts';
import type { Logger } from '../logging/logger.ts';
import { describeFailure, type ConnectorEvents, type RenewalTrigger } from './connector-events.ts';
import { isConnectorError, type ConnectorError } from '../errors/connector-error.ts';
import { renewCertificate } from './renew.ts';
import type { ServiceClient } from './service-client.ts';

export interface CertificateRenewerOptions {
  readonly client: ServiceClient;
  readonly stateDir: string;
  readonly connectorId: string;
  readonly events: ConnectorEvents;
  /** Aborted when the connector stops: a renewal in progress is abandoned. */
  readonly signal: AbortSignal;
  /** Cuts the links so that they reconnect with the new certificate. */
  readonly restartLinks: () => void;
  /** A renewal the service refused: the connector stops. */
  readonly fail: (error: ConnectorError) => void;
  /** The longest wait between two attempts. */
  readonly retryCapMs: number;
  /** Uniform in [0, 1), for the backoff's jitter. */
  readonly random?: () => number;
  /** RSA size of renewed keys; default that of createKeyAndCsr. */
  readonly keyBits?: number;
  /** For renewCertificate's own steps. */
  readonly log?: Logger;
}

export class CertificateRenewer {
  readonly #options: CertificateRenewerOptions;
  readonly #backoff: Backoff;
  #renewing: Promise<void> | undefined;

  constructor(options: CertificateRenewerOptions) {
    this.#options = options;
    this.#backoff = createBackoff({
      baseMs: RENEWAL_RETRY_BASE_MS,
      capMs: Math.max(RENEWAL_RETRY_BASE_MS, options.retryCapMs),
      random: options.random ?? Math.random,
    });
  }

  /** Starts a renewal unless one is running. Does not wait for it: renewing restarts the links that ask. */
  request(trigger: RenewalTrigger): void {
    if (this.#renewing !== undefined || this.#options.signal.aborted) return;
    this.#options.events.emit('renewalDue', { trigger });
    this.#renewing = this.#loop().finally(() => {
      this.#renewing = undefined;
    });
  }

  /** Settles when no renewal is running. */
  async settled(): Promise<void> {
    await this.#renewing;
  }

  async #loop(): Promise<void> {
    const { client, events, signal } = this.#options;
    const backoff = this.#backoff;
    while (!signal.aborted) {
      try {
        const result = await renewCertificate({
          client,
          stateDir: this.#options.stateDir,
          connectorId: this.#options.connectorId,
          signal,
          ...(this.#options.log ? { log: this.#options.log } : {}),
          ...(this.#options.keyBits !== undefined ? { keyBits: this.#options.keyBits } : {}),
        });
        backoff.reset();
        // Links are marked for a restart before the old connections are cut,
        // so that cutting them reads as "reconnect now", not as a failure.
        this.#options.restartLinks();
        client.setIdentity(result.identity);
        events.emit('certificateRenewed', { notAfter: result.notAfter });
        return;
      } catch (error) {
        if (signal.aborted) return;
        if (isConnectorError(error) && error.code === 'ERR_RENEWAL_NOT_DUE') {
          events.emit('renewalNotDue', { dueAt: error.service?.dueAt });
          return;
        }
        if (isConnectorError(error) && !error.retryable) {
          this.#options.fail(error);
          return;
        }
        // Transient, or a local failure (disk full) after which the service
        // still accepts the previous certificate for its grace period.
        const delayMs = backoff.next();
        events.emit('renewalFailed', { failure: describeFailure(error), delayMs, attempt: backoff.attempt });
        await sleep(delayMs, undefined, { signal }).catch(() => undefined);
      }
    }
  }
}

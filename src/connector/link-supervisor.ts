/**
 * Keeps the connector's links to the service alive (the control channel, the
 * tunnels) and decides what each ending means:
 *
 * - network errors, timeouts, 5xx, the service closing: reconnect with
 *   exponential backoff and full jitter, capped, reset after a stable period;
 * - a restart asked for after a renewal: reconnect at once with the new certificate;
 * - anything retrying cannot fix (the certificate refused, the connector
 *   revoked): hand it to `fail`, the connector's one way to stop. Whichever
 *   link hears it first, the stop is the same.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createBackoff } from '../backoff.ts';
import { systemClock, type Clock } from '../clock.ts';
import type { Logger } from '../logging/logger.ts';
import type { ConnectorConfigStore } from './config.ts';
import { describeFailure, type ConnectorEvents, type Failure } from './connector-events.ts';
import { isConnectorError, type ConnectorError } from '../errors/connector-error.ts';
import { GOING_AWAY, type ConnectorLink } from './link.ts';
import type { ServiceClient } from './service-client.ts';

/** Reconnect backoff of `runConnector()`: full jitter between 0 and min(cap, base × 2^attempt). */
export interface ReconnectPolicy {
  readonly baseMs: number;
  readonly capMs: number;
  /** A link up at least this long resets its backoff. */
  readonly stableMs: number;
}

export interface LinkSupervisorOptions {
  readonly client: ServiceClient;
  readonly config: ConnectorConfigStore;
  readonly events: ConnectorEvents;
  /** The links' own log; each link gets a child naming it. */
  readonly log: Logger;
  readonly policy: ReconnectPolicy;
  /** Aborted when the connector stops: every link is closed and not reconnected. */
  readonly signal: AbortSignal;
  /** A link ended in a way retrying cannot fix: the connector stops. */
  readonly fail: (error: ConnectorError) => void;
  readonly clock?: Clock;
  /** Uniform in [0, 1), for the backoff's jitter. */
  readonly random?: () => number;
}

// The abort reason that means "reconnect now, with the new certificate".
const RESTART = Symbol('restart');

const CLOSED_BY_SERVICE: Failure = { code: 'closed', reason: 'closed_by_service', message: 'the service closed the connection' };

export class LinkSupervisor {
  readonly #options: LinkSupervisorOptions;
  readonly #clock: Clock;
  readonly #runs = new Set<AbortController>();

  constructor(options: LinkSupervisorOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** Keeps every link up until the connector stops; resolves once all are closed. */
  async run(links: readonly ConnectorLink[]): Promise<void> {
    await Promise.all(links.map((link) => this.#keepAlive(link)));
  }

  /** Keeps one more link alive until the connector stops or `stop` aborts (then it drains, and is not reconnected). */
  keep(link: ConnectorLink, stop: AbortSignal): Promise<void> {
    return this.#keepAlive(link, AbortSignal.any([this.#options.signal, stop]));
  }

  /** Cuts every link so that it reconnects at once (with the client's new certificate). */
  restart(): void {
    for (const run of this.#runs) run.abort(RESTART);
  }

  async #keepAlive(link: ConnectorLink, signal = this.#options.signal): Promise<void> {
    const { events, policy } = this.#options;
    const backoff = createBackoff({ baseMs: policy.baseMs, capMs: policy.capMs, random: this.#options.random ?? Math.random });
    const log = this.#options.log.child({ link: link.name });
    let wentAway = false;
    while (!signal.aborted) {
      const run = new AbortController();
      const onStop = (): void => run.abort();
      signal.addEventListener('abort', onStop, { once: true });
      this.#runs.add(run);
      let establishedAt: number | undefined;
      let failure: unknown;
      let ended: void | typeof GOING_AWAY = undefined;
      try {
        ended = await link.run({
          signal: run.signal,
          client: this.#options.client,
          config: this.#options.config,
          log,
          established: () => {
            establishedAt = this.#clock();
            events.emit('linkUp', { link: link.name, reconnected: backoff.attempt > 0 || wentAway });
          },
        });
      } catch (error) {
        failure = error;
      } finally {
        this.#runs.delete(run);
        signal.removeEventListener('abort', onStop);
      }
      if (signal.aborted) return;
      if (run.signal.reason === RESTART) {
        events.emit('linkRestarting', { link: link.name });
        continue;
      }
      if (ended === GOING_AWAY) {
        // Nothing failed: dial again soon (jittered, so that connectors do not all arrive at once), with the backoff reset.
        backoff.reset();
        const delayMs = backoff.next();
        backoff.reset();
        wentAway = true;
        events.emit('linkGoingAway', { link: link.name, delayMs });
        await sleep(delayMs, undefined, { signal }).catch(() => undefined);
        continue;
      }
      if (isConnectorError(failure) && !failure.retryable) {
        this.#options.fail(failure);
        return;
      }
      if (establishedAt !== undefined && this.#clock() - establishedAt >= policy.stableMs) backoff.reset();
      const delayMs = backoff.next();
      events.emit('linkDown', {
        link: link.name,
        failure: failure === undefined ? CLOSED_BY_SERVICE : describeFailure(failure),
        delayMs,
        attempt: backoff.attempt,
      });
      await sleep(delayMs, undefined, { signal }).catch(() => undefined);
    }
  }
}

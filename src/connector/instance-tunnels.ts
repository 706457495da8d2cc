/**
 * Which tunnels the connector keeps, as the gateway instances come and go,
 * from the first configuration applied on (none before it). With one
 * instance (or a service that does not list them) the tunnels go to the URL
 * the connector registered with, as they always have. With several
 * sharing one store, the connector keeps its tunnels to each instance's own
 * URL, so that whichever instance a user's request lands on can forward it
 * itself; tunnels to an instance that left are drained, tunnels to a new one
 * dialled, the others left alone. The service may ask for more tunnels to
 * one instance while its streams run short, and for fewer once demand has
 * passed: never fewer than `count`, never more than MAX_TUNNELS_PER_CONNECTOR.
 */
import { MAX_TUNNELS_PER_CONNECTOR } from '../limits.ts';
import type { Logger } from '../logging/logger.ts';
import type { TunnelsEvent } from '../protocol/tunnels-event.ts';
import type { ConnectorConfigStore, GatewayInstanceRef } from './config.ts';
import type { ConnectorLink } from './link.ts';
import type { LinkSupervisor } from './link-supervisor.ts';

export interface InstanceTunnelsOptions {
  readonly supervisor: Pick<LinkSupervisor, 'keep'>;
  readonly config: Pick<ConnectorConfigStore, 'current' | 'onInstances'>;
  /** Tunnels per instance. */
  readonly count: number;
  /** Makes tunnel `index` (from 1) to `instance`, or to the registered URL. */
  readonly makeLink: (index: number, instance: GatewayInstanceRef | undefined) => ConnectorLink;
  readonly log: Logger;
}

interface Running {
  readonly stop: AbortController;
  readonly done: Promise<void>;
}

export class InstanceTunnels {
  readonly #options: InstanceTunnelsOptions;
  readonly #running = new Map<string, Running>();
  readonly #ending = new Set<Promise<void>>();
  /** Tunnels the service asked for, by instance id ('' for the registered URL), where it differs from `count`. */
  readonly #asked = new Map<string, number>();
  #last: { instances: readonly GatewayInstanceRef[] | undefined; signal: AbortSignal } | undefined;

  constructor(options: InstanceTunnelsOptions) {
    this.#options = options;
  }

  /** Keeps the tunnels the configuration asks for until `signal` aborts; resolves once every one has closed. */
  async run(signal: AbortSignal): Promise<void> {
    // The first configuration applied calls this listener too: no tunnel is dialled before it. A tunnel up before it
    // would take the service's streams and refuse each as an unknown app (a 502 for a request the connector can serve
    // a moment later), while the tunnel already counts as connected at both ends.
    const off = this.#options.config.onInstances((instances) => this.#reconcile(instances, signal));
    const current = this.#options.config.current;
    if (current !== undefined) this.#reconcile(current.instances, signal);
    await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
    off();
    await Promise.allSettled([...[...this.#running.values()].map((running) => running.done), ...this.#ending]);
  }

  /** The service's ask on the events stream: keep `want` tunnels to `instance` (absent: the registered URL). */
  want(event: TunnelsEvent): void {
    const key = event.instance ?? '';
    const count = Math.min(MAX_TUNNELS_PER_CONNECTOR, Math.max(this.#options.count, event.want));
    if ((this.#asked.get(key) ?? this.#options.count) === count) return;
    if (count === this.#options.count) this.#asked.delete(key);
    else this.#asked.set(key, count);
    this.#options.log.info(
      { tunnels: count, ...(event.instance !== undefined ? { instance: event.instance } : {}) },
      count > this.#options.count
        ? 'the service asked for more tunnels: its streams run short'
        : 'the service says the demand has passed: back to the usual tunnels',
    );
    if (this.#last) this.#reconcile(this.#last.instances, this.#last.signal);
  }

  /** The tunnels' keys now kept: `<instance id>#<index>`, or `#<index>` for the registered URL. */
  get keys(): string[] {
    return [...this.#running.keys()].map((key) => key.replace(/\|.*#/, '#'));
  }

  #reconcile(instances: readonly GatewayInstanceRef[] | undefined, signal: AbortSignal): void {
    this.#last = { instances, signal };
    if (signal.aborted) return;
    const targets: ReadonlyArray<GatewayInstanceRef | undefined> = instances !== undefined && instances.length > 1 ? instances : [undefined];
    const wanted = new Map<string, { index: number; instance: GatewayInstanceRef | undefined }>();
    for (const instance of targets) {
      const count = this.#asked.get(instance?.id ?? '') ?? this.#options.count;
      for (let index = 1; index <= count; index += 1) {
        wanted.set(`${instance ? `${instance.id}|${instance.url}` : ''}#${index}`, { index, instance });
      }
    }
    const dropped = new Set<string>();
    for (const [key, running] of this.#running) {
      if (wanted.has(key)) continue;
      if (key.includes('|')) dropped.add(key.slice(0, key.indexOf('|')));
      this.#running.delete(key);
      running.stop.abort();
      this.#ending.add(running.done);
      void running.done.finally(() => this.#ending.delete(running.done));
    }
    if (dropped.size > 0) this.#options.log.info({ instances: [...dropped] }, 'the instance list changed: tunnels to these instances drained');
    let added = 0;
    for (const [key, { index, instance }] of wanted) {
      if (this.#running.has(key)) continue;
      const stop = new AbortController();
      this.#running.set(key, { stop, done: this.#options.supervisor.keep(this.#options.makeLink(index, instance), stop.signal) });
      added += 1;
    }
    if (instances !== undefined && instances.length > 1 && added > 0) {
      this.#options.log.info(
        { instances: instances.map(({ id, url }) => ({ id, url })), tunnelsEach: this.#options.count },
        'tunnels kept to every gateway instance',
      );
    }
  }
}

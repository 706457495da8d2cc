/**
 * Live reload: one stable handler and upgrade listener that delegate to the
 * current generation of the request path, and the reload that validates a
 * new configuration, builds the next generation and swaps it in. A reload
 * is all or nothing: a configuration that does not validate, or changes a
 * key that needs a restart, is refused with every problem and the running
 * one stays. Reloads run one at a time, in the order they were asked for.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { Router } from 'express';
import type { AuditLog } from '../audit/audit-log.ts';
import { parseGatewayConfig, type AppConfig, type GatewayConfig } from '../config/parse.ts';
import type { GatewayConfigInput } from '../config/schema.ts';
import { configWarnings } from '../config/config-warnings.ts';
import { WebSocketCaps } from '../edge/websocket-caps.ts';
import { startProblems } from '../config/start-problems.ts';
import { GatehouseConfigError } from '../errors/index.ts';
import type { Logger } from '../logging/logger.ts';
import { reloadableChanges, restartOnlyChanges } from './config-diff.ts';
import { Generation, type SharedParts } from './reload-generation.ts';

/** A configuration to reload: an object as `createGateway()` takes, or a function that reads one (its GatehouseConfigError is reported as the problems). */
export type ReloadInput = GatewayConfigInput | GatewayConfig | (() => GatewayConfigInput | GatewayConfig);

/** Who asked for a reload, for the audit event and the log. */
export interface ReloadActor {
  /** `signal` (SIGHUP), `admin` (the reload endpoint) or `api` (a call to `reload()`). */
  readonly source: 'signal' | 'admin' | 'api';
  readonly clientIp?: string | undefined;
  readonly userAgent?: string | undefined;
}

/** What a reload did: the keys it applied, or every reason it refused (the running configuration stays). */
export type ReloadResult =
  | { readonly applied: true; readonly changed: readonly string[]; readonly warnings: readonly string[] }
  | { readonly applied: false; readonly problems: readonly string[] };

export interface ReloadableOptions extends SharedParts {
  readonly config: GatewayConfig;
  /** Relative `…File` paths of a plain-object input are resolved against this folder. */
  readonly baseDir: string | undefined;
  /** The connector plane, told the new app list (its connectors pull when their documents change). */
  readonly connectors: { updateApps(apps: readonly AppConfig[]): Promise<boolean> } | undefined;
  /** The WebSocket caps every generation shares (with Redis, over every instance); default this instance's own. */
  readonly websockets?: WebSocketCaps | undefined;
}

export class ReloadableRequestPath {
  /** Mounted once; each request takes the generation current when it arrives, and keeps it. */
  readonly handler: Router = Router();
  readonly upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const generation = this.#current;
    generation.followSocket(socket);
    generation.upgrade(req, socket, head);
  };
  readonly #options: ReloadableOptions;
  readonly #audit: AuditLog;
  readonly #logger: Logger;
  readonly #retired = new Set<Generation>();
  #current: Generation;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: ReloadableOptions) {
    this.#options = { ...options, requestPath: { websockets: options.websockets ?? new WebSocketCaps(), ...options.requestPath } };
    this.#audit = options.requestPath.audit;
    this.#logger = options.requestPath.logger;
    this.#current = new Generation(options.config, this.#options);
    this.handler.use((req, res, next) => {
      const generation = this.#current;
      generation.followRequest(res);
      generation.handler(req, res, next);
    });
  }

  /** The configuration new requests are served with. */
  get config(): GatewayConfig {
    return this.#current.config;
  }

  reload(input: ReloadInput, by: ReloadActor = { source: 'api' }): Promise<ReloadResult> {
    const result = this.#queue.then(() => this.#reload(input, by));
    this.#queue = result.catch(() => undefined);
    return result;
  }

  /** Closes the backend connections of every generation, in flight or not, and gives back the WebSocket leases (the gateway is closing). */
  close(): void {
    this.#current.close();
    for (const generation of this.#retired) generation.close();
    this.#options.requestPath.websockets?.close();
  }

  async #reload(input: ReloadInput, by: ReloadActor): Promise<ReloadResult> {
    const before = this.#current.config;
    const checked = this.#check(input, before);
    if ('problems' in checked) return this.#refused(checked.problems, by);
    const { config } = checked;
    let next: Generation;
    try {
      next = new Generation(config, this.#options);
    } catch (error) {
      return this.#refused([`could not build the request path: ${error instanceof Error ? error.message : String(error)}`], by);
    }
    const changed = reloadableChanges(before, config);
    const previous = this.#current;
    this.#current = next;
    this.#retired.add(previous);
    previous.retire(() => this.#retired.delete(previous));
    const warnings = configWarnings(config);
    try {
      await this.#options.connectors?.updateApps(config.apps);
    } catch (error) {
      // The request path is swapped already; connectors keep their last document until the next change or restart.
      warnings.push(`connectors were not told to pull: ${error instanceof Error ? error.message : String(error)}`);
    }
    for (const warning of warnings) this.#logger.warn({ warning }, 'configuration reloaded with a warning');
    this.#logger.info({ changed, source: by.source, clientIp: by.clientIp }, 'configuration reloaded');
    this.#audit.emit({
      type: 'config.reloaded',
      outcome: 'success',
      reason: 'applied',
      clientIp: by.clientIp,
      userAgent: by.userAgent,
      details: { source: by.source, changed: changed.join(', ') },
    });
    return { applied: true, changed, warnings };
  }

  #check(input: ReloadInput, before: GatewayConfig): { config: GatewayConfig } | { problems: string[] } {
    let config: GatewayConfig;
    try {
      const value = typeof input === 'function' ? input() : input;
      const { baseDir } = this.#options;
      config = parseGatewayConfig(value, baseDir !== undefined ? { baseDir } : {});
    } catch (error) {
      if (error instanceof GatehouseConfigError) return { problems: [...error.issues] };
      throw error;
    }
    // The checks `gatehouse check` runs after parsing, then what this process cannot change while it runs.
    const problems = [
      ...startProblems(config),
      ...restartOnlyChanges(before, config).map((key) => `${key}: cannot change while the gateway runs (restart to apply)`),
    ];
    return problems.length > 0 ? { problems } : { config };
  }

  #refused(problems: string[], by: ReloadActor): ReloadResult {
    this.#logger.warn({ problems, source: by.source, clientIp: by.clientIp }, 'configuration reload refused: the running configuration stays');
    this.#audit.emit({
      type: 'config.reloaded',
      outcome: 'failure',
      reason: 'refused',
      clientIp: by.clientIp,
      userAgent: by.userAgent,
      details: { source: by.source, problems: problems.join('; ') },
    });
    return { applied: false, problems };
  }
}

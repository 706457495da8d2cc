/**
 * One generation of the request path: the parts built from a configuration
 * (app table, access control, forwarding rules and forwarder, the steps in
 * order) over the stateful parts every generation shares. A reload builds
 * the next one; a request keeps the generation it started on, and a retired
 * generation's forwarder (its backend connections) is closed once the last
 * of its requests and WebSockets is done.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Router } from 'express';
import { AccessControl, type AccessControlOptions } from '../access/access-control.ts';
import type { GatewayConfig } from '../config/parse.ts';
import type { Forwarder } from '../forwarding/direct-forwarder.ts';
import { createForwardingRules } from '../forwarding/upstream-request.ts';
import type { RateLimiter } from '../edge/rate-limiter.ts';
import type { PreauthDeps } from '../signin/signin-deps.ts';
import type { TunnelPool } from '../tunnel/tunnel-pool.ts';
import type { ForwarderFactoryContext } from './forwarder-factory.ts';
import { createRequestPath, type RequestPathParts } from './request-path.ts';

/**
 * The parts that outlive a reload, built once at start from the keys that need a restart: each part's options
 * but what is read from the configuration, which each generation fills in.
 */
export interface SharedParts {
  readonly access: Omit<AccessControlOptions, 'apps' | 'namedLocations' | 'mfa'>;
  readonly requestPath: Omit<RequestPathParts, 'config' | 'access' | 'signIn' | 'forwarder'>;
  readonly signIn: Omit<PreauthDeps, 'access'>;
  readonly tunnels: TunnelPool | undefined;
  readonly forwarder: (context: ForwarderFactoryContext) => Forwarder;
  /** The rate limits' buckets: a reload changes the limits, never what each address has used. */
  readonly rateLimiter?: RateLimiter | undefined;
}

export class Generation {
  readonly config: GatewayConfig;
  readonly access: AccessControl;
  readonly handler: Router;
  readonly upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  readonly #forwarder: Forwarder;
  #inFlight = 0;
  #retired = false;
  #closed = false;
  #onClosed: (() => void) | undefined;

  constructor(config: GatewayConfig, shared: SharedParts) {
    const { audit, logger } = shared.requestPath;
    this.config = config;
    this.access = new AccessControl({ ...shared.access, apps: config.apps, namedLocations: config.namedLocations, mfa: config.mfa });
    const rules = createForwardingRules({
      apps: config.apps,
      sessionCookieBase: config.session.cookieName,
      stripRequestHeaders: config.forwarding.stripRequestHeaders,
      passRequestHeaders: config.forwarding.passRequestHeaders,
    });
    this.#forwarder = shared.forwarder({ config, rules, audit, logger, tunnels: shared.tunnels });
    const path = createRequestPath({
      ...shared.requestPath,
      config,
      access: this.access,
      signIn: { ...shared.signIn, access: this.access },
      forwarder: this.#forwarder,
      ...(shared.rateLimiter ? { rateLimiter: shared.rateLimiter } : {}),
    });
    this.handler = path.handler;
    this.upgrade = path.upgrade;
  }

  /** Counts the request as this generation's until its response is closed. */
  followRequest(res: ServerResponse): void {
    this.#follow(res);
  }

  /** Counts an upgraded connection (a WebSocket) as this generation's until it is closed. */
  followSocket(socket: Duplex): void {
    this.#follow(socket);
  }

  /** No new requests come here: close the backend connections once what is in flight is done. */
  retire(onClosed?: () => void): void {
    this.#retired = true;
    this.#onClosed = onClosed;
    if (this.#inFlight === 0) this.close();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#forwarder.close();
    this.#onClosed?.();
  }

  #follow(emitter: ServerResponse | Duplex): void {
    // Already gone (a client that hung up during the handshake): its 'close' has been emitted.
    if (emitter.destroyed) return;
    this.#inFlight += 1;
    emitter.once('close', () => {
      this.#inFlight -= 1;
      if (this.#retired && this.#inFlight === 0) this.close();
    });
  }
}

/**
 * A long-lived outbound connection the supervisor keeps alive. The control
 * channel (the events stream) is one; the data-plane tunnels of the tunnel
 * issue will be others (HTTP/2 over ALPN, a WebSocket fallback), each behind
 * this interface, so that reconnecting, backoff and identity changes live in
 * the supervisor once (as in cloudflared `connection/protocol.go`).
 */
import type { Logger } from '../logging/logger.ts';
import type { ConnectorConfigStore } from './config.ts';
import type { ServiceClient } from './service-client.ts';

export interface LinkContext {
  /** Aborted when the connector stops, or when the link must reconnect (new certificate). */
  readonly signal: AbortSignal;
  /** Calls the service with the current client certificate. */
  readonly client: ServiceClient;
  /** The applied configuration: its allow-list decides which apps may be reached. */
  readonly config: ConnectorConfigStore;
  readonly log: Logger;
  /** Tells the supervisor the link is up; a link that stays up long enough resets its backoff. */
  established(): void;
}

/**
 * A link that resolves with this was told by the service that it is going
 * away (GOAWAY without an error): its streams finish on the old connection
 * while the supervisor dials a new one at once, with no failure counted.
 */
export const GOING_AWAY = 'going_away';

export interface ConnectorLink {
  readonly name: string;
  /**
   * Runs until the connection ends. Resolving or rejecting with a retryable
   * ConnectorError means "reconnect after a backoff"; rejecting with any
   * other ConnectorError stops the connector with that error; resolving
   * with GOING_AWAY means "dial again now, nothing failed".
   */
  run(context: LinkContext): Promise<void | typeof GOING_AWAY>;
}

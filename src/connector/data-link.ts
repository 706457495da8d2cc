import { TUNNEL_DRAIN_TIMEOUT_MS } from '../limits.ts';
import type { TargetAllowList } from './allow-list.ts';
import type { AppliedConfig } from './config.ts';
import { ConnectorError, isConnectorError } from '../errors/connector-error.ts';
import { GOING_AWAY, type ConnectorLink, type LinkContext } from './link.ts';
import { serviceRefusedConnector } from '../errors/connector-refusal.ts';
import { dialTunnel, type TunnelTransport } from './link-dialer.ts';
import { TunnelServer, type ResolvedApp, type StreamObserver } from './stream-server.ts';

export interface TunnelLinkOptions {
  readonly index: number;
  readonly transport: TunnelTransport;
  /** How long in-flight streams get to finish when the connector stops. */
  readonly drainTimeoutMs?: number;
  /** The connector's local allow-list of targets; absent: any address the configuration names. */
  readonly allowList?: TargetAllowList;
  /** One gateway instance in particular (when several share the service); absent: the URL the connector registered with. */
  readonly instance?: { readonly id: string; readonly url: string };
  /** Told of every stream (the connector's metrics). */
  readonly observer?: StreamObserver;
}

/**
 * One data-plane tunnel as a supervised link: dial out (TLS with ALPN, or
 * the WebSocket fallback), serve the service's CONNECT streams against the
 * applied configuration (and the local allow-list, if any), and on stop
 * drain: no new streams, the in-flight ones finish. The supervisor
 * reconnects it with backoff.
 */
export function createTunnelLink(options: TunnelLinkOptions): ConnectorLink {
  return {
    name: options.instance ? `tunnel-${options.index}@${options.instance.id}` : `tunnel-${options.index}`,
    async run(context: LinkContext): Promise<void | typeof GOING_AWAY> {
      const identity = context.client.identity;
      if (!identity) throw new ConnectorError('ERR_NOT_REGISTERED', 'This connector has no certificate yet.', { retryable: false, reason: 'no_identity' });
      const socket = await dialTunnel({
        serviceUrl: options.instance?.url ?? context.client.url,
        identity,
        ...(context.client.ca !== undefined ? { ca: context.client.ca } : {}),
        proxy: context.client.proxy,
        transport: options.transport,
        signal: context.signal,
      }).catch((error: unknown) => {
        throw options.instance ? onlyThisInstance(error, options.instance) : error;
      });
      const onSocket = sessionOnSocket(options.transport, context.config.current);
      const server = new TunnelServer(socket, {
        resolveApp: (appId) => resolve(context, appId),
        log: context.log,
        sessionOnSocket: onSocket,
        ...(options.allowList ? { allowList: options.allowList } : {}),
        ...(options.observer ? { observer: options.observer } : {}),
      });
      const drainTimeoutMs = options.drainTimeoutMs ?? TUNNEL_DRAIN_TIMEOUT_MS;
      const onStop = (): void => void server.drain(drainTimeoutMs);
      context.signal.addEventListener('abort', onStop, { once: true });
      const goingAway = new Promise<typeof GOING_AWAY>((resolve) => server.once('goingAway', () => resolve(GOING_AWAY)));
      try {
        // Connected when the service says so (its SETTINGS, sent once it accepted our certificate), not at the end of
        // our TLS handshake: a service that stops in between never had the tunnel, and must not read as one that failed.
        // A GOAWAY read with those SETTINGS (a refusal, or a service going away) is seen here too.
        const accepted = (await server.accepted) && !server.draining;
        if (accepted) {
          context.established();
          context.log.info({ transport: options.transport, writeAhead: !onSocket }, 'tunnel open');
        }
        const info = await Promise.race([server.closed, goingAway]);
        if (info === GOING_AWAY) {
          // The old tunnel finishes its streams (bounded by our own drain deadline) while the supervisor dials a new one.
          void server.drain(drainTimeoutMs);
          return GOING_AWAY;
        }
        if (info.reason === 'drained') return;
        // Closed cleanly by the service (its GOAWAY and the close can arrive together): it went away, nothing failed.
        // A connection closed before the service took it, with no GOAWAY, is a failure: dialling again at once could spin.
        if (info.reason === 'closed_by_service' && !info.error && (accepted || server.draining)) return GOING_AWAY;
        if (info.reason === 'refused' && info.refusal) {
          throw serviceRefusedConnector(info.refusal, { serviceUrl: options.instance ? new URL(options.instance.url).origin : context.client.origin });
        }
        throw new ConnectorError('ERR_SERVICE_UNREACHABLE', `The tunnel closed (${info.reason}).`, {
          retryable: true,
          reason: info.reason,
          ...(info.error ? { cause: info.error } : {}),
        });
      } finally {
        context.signal.removeEventListener('abort', onStop);
      }
    },
  };
}

/**
 * Whether this tunnel's HTTP/2 session may run straight on its connection:
 * a TLS one (a WebSocket's stream is JavaScript anyway), to a service that
 * said its own sessions keep reading while they write. One reading end is
 * enough to keep a tunnel busy both ways from deadlocking; without that word
 * (an older service, or no configuration yet) the connector's write-ahead
 * stream is that end (docs/design-notes.md).
 */
export function sessionOnSocket(transport: TunnelTransport, config: Pick<AppliedConfig, 'tunnelReadsWhileWriting'> | undefined): boolean {
  return transport === 'tls' && config?.tunnelReadsWhileWriting === true;
}

/** What one instance's TLS (its advertised URL or certificate) gets wrong: the service as a whole works, so that instance's tunnels retry while the others carry on. */
const ONE_INSTANCE_ONLY = new Set(['ERR_SERVICE_UNTRUSTED', 'ERR_SERVICE_TLS', 'ERR_SERVICE_BAD_RESPONSE']);

function onlyThisInstance(error: unknown, instance: { readonly id: string; readonly url: string }): unknown {
  if (!isConnectorError(error) || error.retryable || !ONE_INSTANCE_ONLY.has(error.code)) return error;
  return new ConnectorError(
    error.code,
    `${error.message} (gateway instance ${instance.id}, at its connectors.advertiseUrl; the other instances are not affected)`,
    {
      retryable: true,
      reason: error.reason,
      ...(error.service ? { service: error.service } : {}),
      cause: error,
    },
  );
}

function resolve(context: LinkContext, appId: string): ResolvedApp | undefined {
  const app = context.config.allowedApp(appId);
  if (!app) return undefined;
  return { internalUrl: app.internalUrl, ...(app.tls ? { tls: app.tls } : {}) };
}

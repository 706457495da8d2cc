/**
 * Opens one tunnel connection to the service's connector listener, outbound,
 * with the connector's client certificate. The transport is a connector
 * setting: `tls` (default) is a TLS connection with ALPN
 * `gatehouse-tunnel/1` (dial-tls.ts); `websocket` is the fallback for
 * networks whose proxies pass only WebSocket (dial-websocket.ts). Either way
 * the result is a connected duplex for TunnelServer. Failures are
 * ConnectorErrors that say whether to retry.
 */
import type { Duplex } from 'node:stream';
import type { TunnelDialOptions } from './dial-options.ts';
import { dialTlsTunnel } from './dial-tls.ts';
import { dialWebSocketTunnel } from './dial-websocket.ts';

export type { TunnelDialOptions, TunnelTransport } from './dial-options.ts';

/** Opens a tunnel with the chosen transport. */
export function dialTunnel(options: TunnelDialOptions): Promise<Duplex> {
  return options.transport === 'websocket' ? dialWebSocketTunnel(options) : dialTlsTunnel(options);
}

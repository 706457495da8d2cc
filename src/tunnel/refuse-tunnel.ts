/**
 * Refusing a tunnel connection the listener did not accept (for instance a
 * revoked client certificate): the connector is told why, in a GOAWAY whose
 * debug data is the notice, so that it stops retrying; then the connection
 * is closed.
 */
import { connect, constants } from 'node:http2';
import type { Duplex } from 'node:stream';
import { TUNNEL_PING_TIMEOUT_MS } from '../limits.ts';
import { SESSION_AUTHORITY, transportSetNoDelay } from './h2-transport.ts';
import { tunnelSettings } from './http2-settings.ts';

export interface TunnelRefusalNotice {
  /** A Gatehouse error code the connector can act on, e.g. "ERR_CONNECTOR_REVOKED". */
  readonly code: string;
  readonly reason?: string;
}

function noop(): void {}

/** Sends `notice` in a GOAWAY on a fresh HTTP/2 session over `socket`, then closes it. */
export function refuseTunnel(socket: Duplex, notice: TunnelRefusalNotice): void {
  transportSetNoDelay(socket);
  const session = connect(SESSION_AUTHORITY, { createConnection: () => socket, settings: tunnelSettings(0) });
  session.on('error', noop);
  // A peer that never closes its end is not waited for longer than for a PING answer.
  const linger = setTimeout(() => session.destroy(), TUNNEL_PING_TIMEOUT_MS);
  linger.unref();
  session.once('connect', () => {
    session.goaway(constants.NGHTTP2_INADEQUATE_SECURITY, 0, Buffer.from(JSON.stringify(notice)));
    session.close();
  });
  session.once('close', () => {
    clearTimeout(linger);
    if (!socket.destroyed) socket.destroy();
  });
}

/**
 * The rate limits on the connector listener's registration and admin API,
 * mounted before the admin token is checked (checking it is what a flood
 * would make the listener do: a signature, perhaps a call to the identity
 * provider). The listener is reached directly, not through a proxy: the
 * client is the socket's peer.
 */
import { isIP } from 'node:net';
import type { RequestHandler } from 'express';
import type { RateLimitSettings } from '../config/rate-limit-schema.ts';
import { GatehouseError } from '../errors/index.ts';
import { sendConnectorError } from '../errors/render-connector-plane.ts';
import { RATE_LIMIT_LABELS, type RateLimiter } from './rate-limiter.ts';

/** The limiter and the settings in force, for the connector listener. */
export interface ConnectorRateLimits {
  readonly limiter: RateLimiter;
  /** Read on each call: a reload's new settings apply at once. */
  readonly settings: () => RateLimitSettings;
}

/**
 * `connectorRegister`: every call takes a token (a registration signs a certificate). `connectorAdmin`: an address
 * whose bucket is empty is refused, but only refused calls take from it, so an administrator's own calls are not
 * counted against the address they work from.
 */
export function connectorRateLimit(limits: ConnectorRateLimits, name: 'connectorRegister' | 'connectorAdmin'): RequestHandler {
  const peek = name === 'connectorAdmin';
  return (req, res, next) => {
    const clientIp = peerAddress(req.socket.remoteAddress);
    const settings = limits.settings();
    const caller = { clientIp, userAgent: req.headers['user-agent'], requestId: String(res.getHeader('X-Request-Id') ?? '') };
    const wait = limits.limiter.check(name, settings, caller, peek);
    if (wait > 0) {
      res.setHeader('Retry-After', String(wait));
      sendConnectorError(res, new GatehouseError('ERR_RATE_LIMITED', RATE_LIMIT_LABELS[name]));
      return;
    }
    if (peek) {
      res.once('finish', () => {
        if (res.statusCode >= 400) limits.limiter.charge(name, settings, clientIp);
      });
    }
    next();
  };
}

/** IPv4 peers on a dual-stack socket appear as ::ffff:a.b.c.d. */
function peerAddress(address: string | undefined): string {
  const peer = address ?? '';
  return peer.startsWith('::ffff:') && isIP(peer.slice(7)) === 4 ? peer.slice(7) : peer;
}

import { externalUrlOf } from '../config/external-url.ts';
import { GatehouseError } from '../errors/index.ts';
import { CONTINUE, type Step } from './step.ts';

/** Only WebSocket upgrades are forwarded; any other protocol switch is refused. */
export const websocketOnly: Step = ({ req }) =>
  req.method === 'GET' && req.headers.upgrade?.toLowerCase() === 'websocket'
    ? CONTINUE
    : { kind: 'error', error: new GatehouseError('ERR_BAD_REQUEST', 'upgrade_not_websocket'), rejectsRequest: true };

/**
 * A browser sends the Origin of the page that opened a WebSocket, and cookies go along whoever opened it: a socket
 * opened by another site's page would act as the signed-in user. Clients that send no Origin are not browsers.
 */
export const sameOrigin: Step = ({ req, context }) => {
  const origin = req.headers.origin;
  if (origin === undefined || !context.app || origin === externalUrlOf(context.app).origin) return CONTINUE;
  return { kind: 'error', error: new GatehouseError('ERR_ORIGIN_REFUSED', 'cross_origin_websocket'), rejectsRequest: true };
};

import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { getRequestContext, type RequestStep } from '../request/context.ts';
import { OTHER } from './counter-cells.ts';
import { NO_APP, type GatewayMetrics } from './gateway-metrics.ts';

/** By hundreds; index 0 is anything outside 100–599. */
const STATUS_CLASSES = [OTHER, '1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/** The client went away before the whole answer was written. */
export const ABORTED = 'aborted';

export function statusClass(status: number): string {
  return status >= 100 && status < 600 ? (STATUS_CLASSES[Math.floor(status / 100)] ?? OTHER) : OTHER;
}

/**
 * The step that answered: what the request path recorded on the context; a request without a context was answered
 * by the robots denier, the one step before the context exists; a step that records nothing is the forwarding.
 */
function answeringStep(req: IncomingMessage): RequestStep {
  const context = getRequestContext(req);
  return context ? (context.step ?? 'upstream') : 'robots';
}

/**
 * Counts every request and times it, from the moment the gateway's router sees it to its last byte. Mounted first
 * in the router, so robots.txt and refusals count too. Per request: two timestamps, one listener, a few Map lookups.
 */
export function requestMetrics(metrics: GatewayMetrics): (req: IncomingMessage, res: ServerResponse, next: () => void) => void {
  const { requests, requestSeconds } = metrics;
  return (req, res, next) => {
    const start = performance.now();
    // 'close' comes once per response, after 'finish' or when the connection went away first.
    res.on('close', () => {
      const app = getRequestContext(req)?.app?.id ?? NO_APP;
      requests.inc(app, answeringStep(req), res.writableFinished ? statusClass(res.statusCode) : ABORTED);
      requestSeconds.observe(app, (performance.now() - start) / 1000);
    });
    next();
  };
}

/** What the upgrade handler reports: forwarded to the app, or refused by a step (raw HTTP answer on the socket). */
export function upgradeMetrics(metrics: GatewayMetrics): (appId: string | undefined, outcome: 'forwarded' | 'refused') => void {
  return (appId, outcome) => metrics.websocketUpgrades.inc(appId ?? NO_APP, outcome);
}

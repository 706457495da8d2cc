/** `GET /metrics`: a registry and the process's metrics in Prometheus' text format, for the admin listener and the connector's metrics address. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { writeJson } from '../health/health-handler.ts';
import { scrapeMetrics, type MetricsPrefix } from '../metrics/registry.ts';

export const METRICS_PATH = '/metrics';

/** Prometheus' text format; GET and HEAD only. A failing collector is a 500 without its message. */
export function serveMetrics(req: IncomingMessage, res: ServerResponse, registry: Registry, prefix: MetricsPrefix): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    writeJson(req, res, 405, { error: 'method_not_allowed' });
    return;
  }
  scrapeMetrics(registry, prefix).then(
    ({ contentType, body }) => {
      if (res.destroyed) return;
      res.statusCode = 200;
      res.setHeader('Content-Type', contentType);
      res.setHeader('Cache-Control', 'no-store');
      res.setHeader('Content-Length', Buffer.byteLength(body));
      res.end(req.method === 'HEAD' ? undefined : body);
    },
    () => writeJson(req, res, 500, { error: 'metrics_unavailable' }),
  );
}

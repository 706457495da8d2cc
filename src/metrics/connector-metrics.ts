import { X509Certificate } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ConnectorEvents } from '../connector/connector-events.ts';
import type { StreamObserver } from '../connector/stream-server.ts';
import type { TunnelRefusal } from '../protocol/tunnel-wire.ts';

/** Refusals that say the app could not be reached (the others are about the request or the connector itself). */
const ORIGIN_REFUSALS: ReadonlySet<TunnelRefusal> = new Set<TunnelRefusal>(['origin_refused', 'origin_timeout', 'origin_tls']);

/** The kind of a supervised link, from its name (`control`, `tunnel-0`, `tunnel-1@instance`): bounded whatever the instances. */
function linkKind(name: string): string {
  if (name === 'control') return 'control';
  return name.startsWith('tunnel-') ? 'tunnel' : 'other';
}

interface ByteCounts {
  readonly bytesRead?: number;
  readonly bytesWritten?: number;
}

/** The identity the certificate metric carries. */
export interface ConnectorIdentityLabels {
  readonly connectorId: string;
  readonly group: string;
  readonly certPem: string;
}

/** A connector's metrics on one registry: what its tunnels' streams report, and what its events say. */
export interface ConnectorMetrics {
  /** Given to every tunnel: streams in flight, refusals, origin errors, bytes. */
  readonly streams: StreamObserver;
  /** Follows the connector's events (links up, certificate renewed) until the function returned is called. */
  attach(events: ConnectorEvents, identity: ConnectorIdentityLabels): () => void;
}

const perRegistry = new WeakMap<Registry, ConnectorMetrics>();

/**
 * The connector's metrics (`gatehouse_connector_…`), defined once per registry: a connector run again in the same
 * process (tests, an embedding supervisor) counts on. Streams in flight and bytes are read at scrape time from the
 * app connections open; a stream costs a Set insertion and removal.
 */
export function connectorMetrics(registry: Registry): ConnectorMetrics {
  const existing = perRegistry.get(registry);
  if (existing) return existing;
  const registers = [registry];
  const origins = new Set<Duplex>();
  const closedBytes = { sent: 0, received: 0 };
  const linksUp = new Map<string, string>();
  let certificate: { labels: { connector: string; connector_group: string }; notAfter: number } | undefined;

  new Gauge({
    name: 'gatehouse_connector_links_up',
    help: 'Links to the service that are up, by kind: the control channel (configuration and events) and the data-plane tunnels.',
    labelNames: ['link'],
    registers,
    collect() {
      this.reset();
      const counts = new Map<string, number>([
        ['control', 0],
        ['tunnel', 0],
      ]);
      for (const kind of linksUp.values()) counts.set(kind, (counts.get(kind) ?? 0) + 1);
      for (const [link, count] of counts) this.set({ link }, count);
    },
  });
  new Gauge({
    name: 'gatehouse_connector_streams_in_flight',
    help: 'Tunnel streams spliced to an app right now.',
    registers,
    collect() {
      this.set(origins.size);
    },
  });
  const streams = new Counter({
    name: 'gatehouse_connector_streams_total',
    help: 'Tunnel streams spliced to an app (accepted).',
    registers,
  });
  const refused = new Counter({
    name: 'gatehouse_connector_streams_refused_total',
    help: 'Tunnel streams refused, by reason (unknown_app, target_refused, origin_refused, origin_timeout, origin_tls, draining, bad_method, bad_target).',
    labelNames: ['reason'],
    registers,
  });
  const originErrors = new Counter({
    name: 'gatehouse_connector_origin_errors_total',
    help: 'Apps that could not be reached or failed mid-stream, by code (origin_refused, origin_timeout, origin_tls, origin_reset).',
    labelNames: ['code'],
    registers,
  });
  new Counter({
    name: 'gatehouse_connector_origin_bytes_total',
    help: "Bytes on the apps' connections, by direction (sent to the app, received from it); open streams included.",
    labelNames: ['direction'],
    registers,
    collect() {
      let { sent, received } = closedBytes;
      for (const origin of origins) {
        const counts = origin as Duplex & ByteCounts;
        sent += counts.bytesWritten ?? 0;
        received += counts.bytesRead ?? 0;
      }
      this.reset();
      this.inc({ direction: 'sent' }, sent);
      this.inc({ direction: 'received' }, received);
    },
  });
  new Gauge({
    name: 'gatehouse_connector_certificate_expiry_timestamp_seconds',
    help: "When this connector's client certificate expires, in seconds since the epoch.",
    labelNames: ['connector', 'connector_group'],
    registers,
    collect() {
      this.reset();
      if (certificate) this.set(certificate.labels, certificate.notAfter);
    },
  });

  const metrics: ConnectorMetrics = {
    streams: {
      spliced(origin) {
        origins.add(origin);
        streams.inc();
        return () => {
          if (!origins.delete(origin)) return;
          const counts = origin as Duplex & ByteCounts;
          closedBytes.sent += counts.bytesWritten ?? 0;
          closedBytes.received += counts.bytesRead ?? 0;
        };
      },
      refused(refusal) {
        refused.inc({ reason: refusal });
        if (ORIGIN_REFUSALS.has(refusal)) originErrors.inc({ code: refusal });
      },
      originReset() {
        originErrors.inc({ code: 'origin_reset' });
      },
    },
    attach(events, identity) {
      const labels = { connector: identity.connectorId, connector_group: identity.group };
      const setNotAfter = (notAfter: string): void => {
        const at = Date.parse(notAfter);
        if (Number.isFinite(at)) certificate = { labels, notAfter: Math.floor(at / 1000) };
      };
      setNotAfter(new X509Certificate(identity.certPem).validTo);
      linksUp.clear();
      const down = ({ link }: { readonly link: string }): void => void linksUp.delete(link);
      const onUp = ({ link }: { readonly link: string }): void => void linksUp.set(link, linkKind(link));
      const onRenewed = ({ notAfter }: { readonly notAfter: string }): void => setNotAfter(notAfter);
      const onStopped = (): void => linksUp.clear();
      events.on('linkUp', onUp);
      events.on('linkDown', down);
      events.on('linkRestarting', down);
      events.on('linkGoingAway', down);
      events.on('certificateRenewed', onRenewed);
      events.on('stopped', onStopped);
      return () => {
        events.off('linkUp', onUp);
        events.off('linkDown', down);
        events.off('linkRestarting', down);
        events.off('linkGoingAway', down);
        events.off('certificateRenewed', onRenewed);
        events.off('stopped', onStopped);
      };
    },
  };
  perRegistry.set(registry, metrics);
  return metrics;
}

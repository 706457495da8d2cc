import { Counter, Gauge, type Registry } from 'prom-client';
import type { AuditSinks } from '../audit/create-audit-sinks.ts';
import type { ConnectorRecord } from '../connector-plane/connector-registry.ts';
import type { TunnelPool } from '../tunnel/tunnel-pool.ts';

/** What the connector plane metrics read at scrape time. */
export interface ConnectorPlaneState {
  /** The live tunnels; undefined without a connector plane. */
  readonly tunnels: () => TunnelPool | undefined;
  /** The registered connectors; undefined until the connector plane has loaded them. */
  readonly connectors: () => readonly ConnectorRecord[] | undefined;
  /** Groups some app is published through: reported with 0 when nothing of theirs is online. */
  readonly groups: () => readonly string[];
}

/**
 * Tunnels, connectors, streams and bytes per connector group, and each connector's certificate expiry: all read from
 * the pool and the registry when Prometheus scrapes, so forwarding a request counts nothing here.
 */
export function observeConnectorPlane(registry: Registry, state: ConnectorPlaneState): void {
  const registers = [registry];
  const perGroup = (read: (tunnels: TunnelPool, group: string) => number) =>
    function collect(this: Gauge<'connector_group'>): void {
      this.reset();
      const tunnels = state.tunnels();
      if (!tunnels) return;
      const groups = new Set([...state.groups(), ...tunnels.sessions().map((session) => session.group)]);
      for (const group of groups) this.set({ connector_group: group }, read(tunnels, group));
    };
  const healthy = (tunnels: TunnelPool, group: string) => tunnels.sessions(group).filter((session) => session.healthy);
  new Gauge({
    name: 'gatehouse_tunnels_online',
    help: 'Healthy connector tunnels (connected, not draining), by connector group.',
    labelNames: ['connector_group'],
    registers,
    collect: perGroup((tunnels, group) => healthy(tunnels, group).length),
  });
  new Gauge({
    name: 'gatehouse_connectors_online',
    help: 'Connectors with at least one healthy tunnel, by connector group.',
    labelNames: ['connector_group'],
    registers,
    collect: perGroup((tunnels, group) => new Set(healthy(tunnels, group).map((session) => session.connectorId)).size),
  });
  new Gauge({
    name: 'gatehouse_tunnel_streams_in_flight',
    help: 'Tunnel streams open (being opened, in use, or idle in keep-alive), by connector group.',
    labelNames: ['connector_group'],
    registers,
    collect: perGroup((tunnels, group) => tunnels.sessions(group).reduce((sum, session) => sum + session.inFlight, 0)),
  });
  new Gauge({
    name: 'gatehouse_tunnel_stream_window_bytes',
    help: "The smallest receive window a healthy tunnel of the group gives each stream now, by connector group: 8 MiB while few streams are in use, down to 16 KiB as more share the tunnel's budget.",
    labelNames: ['connector_group'],
    registers,
    collect(this: Gauge<'connector_group'>): void {
      this.reset();
      const smallest = new Map<string, number>();
      for (const session of state.tunnels()?.sessions() ?? []) {
        if (session.healthy) smallest.set(session.group, Math.min(session.streamWindow, smallest.get(session.group) ?? Infinity));
      }
      for (const [group, bytes] of smallest) this.set({ connector_group: group }, bytes);
    },
  });
  new Gauge({
    name: 'gatehouse_tunnel_queue_depth',
    help: 'Requests waiting for a free tunnel stream (every tunnel of the group at its stream limit), by connector group.',
    labelNames: ['connector_group'],
    registers,
    collect: perGroup((tunnels, group) => tunnels.waiting(group)),
  });
  new Counter({
    name: 'gatehouse_tunnel_queue_requests_total',
    help: 'Requests that waited for a free tunnel stream, by connector group and how the wait ended (served, full, timeout, abandoned, no_tunnel).',
    labelNames: ['connector_group', 'outcome'],
    registers,
    collect() {
      this.reset();
      for (const [group, stats] of state.tunnels()?.queueStats() ?? []) {
        for (const [outcome, count] of Object.entries(stats.outcomes)) this.inc({ connector_group: group, outcome }, count);
      }
    },
  });
  new Counter({
    name: 'gatehouse_tunnel_bytes_total',
    help: 'Bytes through tunnel streams (HTTP bytes, without HTTP/2 framing), by connector group and direction (sent to the connector, received from it).',
    labelNames: ['connector_group', 'direction'],
    registers,
    collect() {
      this.reset();
      for (const [group, bytes] of state.tunnels()?.bytesByGroup() ?? []) {
        this.inc({ connector_group: group, direction: 'sent' }, bytes.sent);
        this.inc({ connector_group: group, direction: 'received' }, bytes.received);
      }
    },
  });
  new Gauge({
    name: 'gatehouse_connector_certificate_expiry_timestamp_seconds',
    help: 'When the current client certificate of each registered connector (not revoked) expires, in seconds since the epoch.',
    labelNames: ['connector', 'connector_group'],
    registers,
    collect() {
      this.reset();
      for (const record of state.connectors() ?? []) {
        if (record.revoked) continue;
        const notAfter = Date.parse(record.certificate.notAfter);
        if (Number.isFinite(notAfter)) this.set({ connector: record.id, connector_group: record.group }, Math.floor(notAfter / 1000));
      }
    },
  });
}

/** The configured audit sinks' queue and losses, read at scrape time. */
export function observeAudit(registry: Registry, configured: () => Pick<AuditSinks, 'webhook' | 'file'> | undefined): void {
  const registers = [registry];
  new Gauge({
    name: 'gatehouse_audit_outbox_events',
    help: 'Audit events waiting for the webhook: queued, and in the batch on the wire or waiting for its retry.',
    registers,
    collect() {
      const stats = configured()?.webhook?.stats();
      this.set(stats ? stats.queued + stats.inFlight : 0);
    },
  });
  new Counter({
    name: 'gatehouse_audit_dropped_events_total',
    help: 'Audit events a sink gave up on (queue or backlog full, refused, write error, undelivered at close), by sink.',
    labelNames: ['sink'],
    registers,
    collect() {
      this.reset();
      const sinks = configured();
      if (sinks?.webhook) this.inc({ sink: 'webhook' }, sinks.webhook.stats().dropped);
      if (sinks?.file) this.inc({ sink: 'file' }, sinks.file.stats().dropped);
    },
  });
}

/**
 * The record each gateway instance keeps in the shared store (`instance:<id>`):
 * who it is, where connectors reach it, until when it counts as live, and,
 * since the overview shows every instance's tunnels, the tunnels and streams
 * in flight each connector has to it. That list is bounded so the record stays
 * small whatever the number of connectors, and optional: a record written by an
 * older instance has none, and reads as "unknown", never as zero tunnels.
 */
import { z } from 'zod';

/** Connectors listed in one record: the ones with the most tunnels first; the record says when some were left out. */
export const MAX_LISTED_CONNECTORS = 200;
/** A record longer than this was not written by a gateway: it is not parsed. */
export const MAX_RECORD_CHARS = 64 * 1024;

export interface ConnectorLoad {
  readonly id: string;
  readonly tunnels: number;
  readonly streams: number;
}

export interface InstanceRecord {
  readonly id: string;
  readonly url: string;
  readonly expiresAt: number;
  /** Undefined: the writer did not say (an older instance) or said something unreadable. */
  readonly connectors: readonly ConnectorLoad[] | undefined;
  /** More connectors had tunnels than the record lists. */
  readonly truncated: boolean;
}

const baseSchema = z.object({ id: z.string().min(1).max(100), url: z.url(), expiresAt: z.number() });
const count = z.number().int().min(0).max(1_000_000);
const loadsSchema = z.array(z.object({ id: z.string().min(1).max(200), tunnels: count, streams: count })).max(MAX_LISTED_CONNECTORS);

export function writeInstanceRecord(id: string, url: string, expiresAt: number, loads: readonly ConnectorLoad[] | undefined): string {
  if (loads === undefined) return JSON.stringify({ id, url, expiresAt });
  const listed = [...loads].sort((a, b) => b.tunnels - a.tunnels || a.id.localeCompare(b.id)).slice(0, MAX_LISTED_CONNECTORS);
  const connectors = listed.map(({ id: connector, tunnels, streams }) => ({ id: connector, tunnels, streams }));
  return JSON.stringify({ id, url, expiresAt, connectors, ...(loads.length > listed.length ? { truncated: true } : {}) });
}

/** The record, or undefined when it is not one; a readable record with an unreadable connector list keeps its place with the list unknown. */
export function readInstanceRecord(raw: string): InstanceRecord | undefined {
  if (raw.length > MAX_RECORD_CHARS) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw) as unknown;
  } catch {
    return undefined;
  }
  const base = baseSchema.safeParse(value);
  if (!base.success) return undefined;
  const fields = value as { connectors?: unknown; truncated?: unknown };
  const loads = fields.connectors === undefined ? undefined : loadsSchema.safeParse(fields.connectors);
  return { ...base.data, connectors: loads?.success ? loads.data : undefined, truncated: loads?.success === true && fields.truncated === true };
}

/** Each connector's tunnels and streams in flight, from the open tunnels of this instance. */
export function connectorLoads(
  sessions: ReadonlyArray<{ readonly connectorId: string; readonly closed: boolean; readonly inFlight: number }>,
): ConnectorLoad[] {
  const loads = new Map<string, { tunnels: number; streams: number }>();
  for (const session of sessions) {
    if (session.closed) continue;
    const load = loads.get(session.connectorId) ?? { tunnels: 0, streams: 0 };
    load.tunnels += 1;
    load.streams += session.inFlight;
    loads.set(session.connectorId, load);
  }
  return [...loads].map(([id, load]) => ({ id, ...load }));
}

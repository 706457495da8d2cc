/**
 * The soak's gateway in a process of its own (started with --expose-gc by
 * soak/run.ts through bench/lib/child.ts), so that its RSS, its active
 * resources and its leak counts are the gateway's alone, not the load
 * generator's. Commands over IPC: adminToken, signIn, signOut { cookie },
 * idpDown, idpUp, figures (tunnel streams, server connections and
 * listeners, active resources), tunnels (each tunnel's state), memory (after a full GC), audit.
 *
 *   node --expose-gc soak/gateway.ts --backend URL --redis URL
 */
import { parseArgs } from 'node:util';
import { fullGc, serveParent } from '../bench/lib/child.ts';
import { startCloud } from './lib/cloud.ts';
import { figures } from './lib/probes.ts';
import { tunnelStates, type TunnelEvent } from './lib/tunnel-report.ts';

export interface SoakGatewayInfo {
  readonly origin: string;
  readonly caPem: string;
  readonly connectorUrl: string;
  readonly connectorCaFile: string;
}

export interface SoakAudit {
  readonly counts: Record<string, number>;
  readonly tunnelEvents: readonly TunnelEvent[];
}

const { values } = parseArgs({ options: { backend: { type: 'string' }, redis: { type: 'string' } } });
if (!values.backend || !values.redis) throw new Error('usage: node --expose-gc soak/gateway.ts --backend URL --redis URL');
const cloud = await startCloud({ backendUrl: values.backend, redisUrl: values.redis });

serveParent<SoakGatewayInfo>(
  { origin: cloud.origin, caPem: cloud.ca.certPem, connectorUrl: cloud.connectorUrl, connectorCaFile: cloud.connectorCaFile },
  {
    adminToken: () => cloud.adminToken(),
    signIn: () => cloud.signIn(),
    signOut: (args) => cloud.signOut(String(args['cookie'])),
    idpDown: () => cloud.idpDown(),
    idpUp: () => cloud.idpUp(),
    figures: () => figures(cloud.gateway, cloud.server),
    tunnels: () => tunnelStates(cloud.gateway),
    memory: () => {
      fullGc();
      return fullGc();
    },
    audit: (): SoakAudit => ({
      counts: Object.fromEntries(cloud.audit.counts),
      tunnelEvents: cloud.audit.kept
        .filter((event) => event.details?.['tunnel'] !== undefined)
        .map((event): TunnelEvent => ({
          type: event.type,
          connectorId: String(event.details?.['connectorId']),
          tunnel: String(event.details?.['tunnel']),
          reason: event.reason,
          atMs: Date.parse(event.time),
        })),
    }),
  },
  () => cloud.close(),
);

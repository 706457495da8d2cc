/**
 * Connections on the public listener (`limits.connections`): how many one
 * peer address may hold open at once on this instance. The peer is the
 * socket's (a load balancer in front is one peer); 0 turns the cap off.
 */
import { z } from 'zod';
import { CONNECTIONS_PER_IP } from '../limits.ts';

export const connectionLimitsSchema = z
  .strictObject({
    /** Connections open at once from one peer address (an IPv6 /64 is one), on one instance; 0: no cap. */
    perIp: z.number().int().min(0).max(10_000_000).default(CONNECTIONS_PER_IP),
  })
  .prefault({});

export type ConnectionLimitSettings = z.output<typeof connectionLimitsSchema>;

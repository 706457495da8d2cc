/**
 * The `tunnels` event on a connector's events stream: its group's streams run
 * short (or have been quiet long enough), so keep `want` tunnels to the
 * instance `instance` (absent: to the URL the connector registered with, the
 * single-instance case). The connector keeps at least what it was started
 * with and never more than MAX_TUNNELS_PER_CONNECTOR, whatever it is told.
 */
import { z } from 'zod';
import { MAX_TUNNELS_PER_CONNECTOR } from '../limits.ts';

export const TUNNELS_EVENT = 'tunnels';

export const tunnelsEventSchema = z.object({
  want: z.number().int().min(1).max(MAX_TUNNELS_PER_CONNECTOR),
  instance: z.string().min(1).max(100).optional(),
});

export type TunnelsEvent = z.infer<typeof tunnelsEventSchema>;

/** The event's data, or undefined when it is not one this connector understands (ignored, like any unknown event). */
export function parseTunnelsEvent(data: string): TunnelsEvent | undefined {
  try {
    const parsed = tunnelsEventSchema.safeParse(JSON.parse(data));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

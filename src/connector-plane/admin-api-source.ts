/**
 * What the admin API's views of apps and of the whole gateway read besides the
 * connector plane: the gateway's current configuration, its readiness and its
 * tunnels. The gateway passes these; the API keeps no state of its own.
 */
import type { GatewayConfig } from '../config/parse.ts';
import type { Readiness } from '../health/readiness.ts';
import type { TunnelPool } from '../tunnel/tunnel-pool.ts';

export interface AdminApiSource {
  /** The configuration new requests are served with (it follows reloads). */
  readonly config: () => Pick<GatewayConfig, 'apps' | 'namedLocations' | 'mfa'>;
  readonly readiness: () => Promise<Readiness>;
  /** This instance's tunnels, once the connector service exists. */
  readonly tunnels: () => Pick<TunnelPool, 'sessions'> | undefined;
}

/** Why the admin API refused an input, in one line: the first problem zod found and where. */
export function inputProblem(issues: ReadonlyArray<{ readonly path: readonly PropertyKey[]; readonly message: string }>): string {
  const first = issues[0];
  if (!first) return 'The input is not valid.';
  const where = first.path.length > 0 ? `"${first.path.map(String).join('.')}"` : 'the input';
  return `${where}: ${first.message}`.slice(0, 200);
}

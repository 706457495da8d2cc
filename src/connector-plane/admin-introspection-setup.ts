/** Builds the introspection of opaque admin tokens from `connectors.admin.introspection`, or nothing when it is not configured. */
import type { Clock } from '../clock.ts';
import type { ConnectorsConfig } from '../config/parse.ts';
import { GatehouseError } from '../errors/index.ts';
import { TokenIntrospection } from './token-introspection.ts';

export interface IdpClientForIntrospection {
  readonly clientId: string;
  readonly clientSecret: string | undefined;
  readonly introspectionEndpoint: () => Promise<string | undefined>;
  readonly timeoutMs: number;
}

export function adminIntrospection(
  settings: ConnectorsConfig['admin'],
  client: IdpClientForIntrospection | undefined,
  fetch: (url: string, init: RequestInit) => Promise<Response>,
  clock: Clock,
): TokenIntrospection | undefined {
  const configured = settings.introspection;
  if (configured === undefined || client === undefined) return undefined;
  const { endpoint } = configured;
  return new TokenIntrospection({
    endpoint: async () => {
      const url = endpoint ?? (await client.introspectionEndpoint());
      if (url === undefined) throw new GatehouseError('ERR_IDP_UNAVAILABLE', 'no_introspection_endpoint');
      return new URL(url);
    },
    clientId: client.clientId,
    clientSecret: client.clientSecret,
    fetch,
    clock,
    timeoutMs: client.timeoutMs,
  });
}

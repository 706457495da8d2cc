import type { ClientApp } from '../types.ts';
import type { CriterionResult } from './result.ts';

const KNOWN: ReadonlySet<string> = new Set<ClientApp>(['browser', 'api']);

/** The client is a browser or an API client; one the middleware could not classify is treated as both. */
export function matchClientApp(allowed: readonly ClientApp[], clientApp: ClientApp): CriterionResult {
  if (!KNOWN.has(clientApp)) return { ok: true, reason: 'clientApp:unknown' };
  return { ok: allowed.includes(clientApp), reason: `clientApp:${clientApp}` };
}

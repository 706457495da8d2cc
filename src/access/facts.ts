import type { IncomingMessage } from 'node:http';
import type { AccessFacts, ClientApp, RiskLevel } from '../policy/types.ts';
import type { Identity } from '../request/context.ts';

/**
 * Browser or API client, for the client-app condition: a browser sends
 * fetch metadata (or at least says it is a Mozilla-compatible agent);
 * scripts, CLIs and service clients do not.
 */
export function clientAppOf(req: IncomingMessage): ClientApp {
  if (req.headers['sec-fetch-site'] !== undefined || req.headers['sec-fetch-mode'] !== undefined) return 'browser';
  return /^Mozilla\//.test(req.headers['user-agent'] ?? '') ? 'browser' : 'api';
}

/** The path the gateway routes on: what the policy's `paths` condition compares with. */
export function requestPath(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

export interface FactsInput {
  readonly identity: Identity;
  readonly clientIp: string;
  readonly clientApp: ClientApp;
  readonly path: string;
  readonly risk: { readonly signInRisk: RiskLevel; readonly userRisk: RiskLevel };
  readonly now: number;
}

export function accessFacts(input: FactsInput): AccessFacts {
  const { identity } = input;
  return {
    user: {
      sub: identity.sub,
      email: identity.email,
      emailVerified: identity.emailVerified,
      groups: identity.groups,
      amr: identity.amr,
      acr: identity.acr,
      authTime: identity.authTime,
      kind: identity.kind ?? 'user',
      claims: {
        ...identity.claims,
        sub: identity.sub,
        ...(identity.email !== undefined ? { email: identity.email } : {}),
        groups: identity.groups,
        amr: identity.amr,
        ...(identity.acr !== undefined ? { acr: identity.acr } : {}),
      },
    },
    clientIp: input.clientIp,
    clientApp: input.clientApp,
    path: input.path,
    signInRisk: input.risk.signInRisk,
    userRisk: input.risk.userRisk,
    now: input.now,
  };
}

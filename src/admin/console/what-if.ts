/**
 * "What if": the decision the policy engine would take for a user, groups, a client
 * address and an MFA sign-in, with the reasons users would read. The engine is the same
 * pure function the request path calls; nothing is signed in or recorded.
 */
import { explain } from '../../access/explanation.ts';
import type { AppConfig, GatewayConfig } from '../../config/parse.ts';
import { createPolicyEngine } from '../../policy/engine.ts';
import type { AccessDecision } from '../../policy/types.ts';

export interface WhatIfInput {
  readonly user: string;
  readonly groups: readonly string[];
  readonly ip: string;
  readonly mfa: boolean;
  readonly path: string;
}

export interface WhatIfAnswer {
  readonly decision: AccessDecision;
  readonly told: readonly string[];
}

const LIMIT = 256;

export function readWhatIf(params: URLSearchParams): WhatIfInput | undefined {
  const user = params.get('user')?.trim().slice(0, LIMIT);
  if (user === undefined || user === '') return undefined;
  const path = params.get('path')?.trim().slice(0, LIMIT) ?? '/';
  return {
    user,
    groups: (params.get('groups') ?? '')
      .split(',')
      .map((group) => group.trim().slice(0, LIMIT))
      .filter((group) => group !== '')
      .slice(0, 50),
    ip: params.get('ip')?.trim().slice(0, 64) || '127.0.0.1',
    mfa: params.get('mfa') === 'yes',
    path: path.startsWith('/') ? path : `/${path}`,
  };
}

export function whatIf(app: AppConfig, config: Pick<GatewayConfig, 'namedLocations' | 'mfa'>, input: WhatIfInput, now: number): WhatIfAnswer {
  const engine = createPolicyEngine({ policies: app.policies, namedLocations: config.namedLocations, mfa: config.mfa });
  const email = input.user.includes('@') ? input.user : undefined;
  const amr = input.mfa ? [config.mfa.amr[0] ?? 'mfa'] : ['pwd'];
  const acr = input.mfa ? config.mfa.acr[0] : undefined;
  const decision = engine.evaluate({
    user: {
      sub: input.user,
      email,
      emailVerified: email !== undefined,
      groups: input.groups,
      amr,
      acr,
      authTime: Math.floor(now / 1000),
      kind: 'user',
      claims: { sub: input.user, ...(email ? { email, email_verified: true } : {}), groups: input.groups, amr, ...(acr ? { acr } : {}) },
    },
    clientIp: input.ip,
    clientApp: 'browser',
    path: input.path,
    signInRisk: 'none',
    userRisk: 'none',
    now: Math.floor(now / 1000),
  });
  return { decision, told: decision.effect === 'allow' ? [] : explain(decision).details };
}

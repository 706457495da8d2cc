import { createHash } from 'node:crypto';
import type { AppConfig } from '../config/parse.ts';
import { groupsAt } from '../session/claim-path.ts';
import { policyClaimNames } from '../session/session-manager.ts';
import type { Identity } from '../session/identity.ts';
import type { VerifiedBearer } from './verify-bearer.ts';

/**
 * The identity an accepted access token gives, in the shape the session gives, so that conditional access, the
 * identity headers and the assertion treat a program and a signed-in browser alike. The "session" is the token:
 * its id is a digest of the token (never the token), and it ends when the token expires. Groups are read where the
 * sign-in reads them (identityProvider.groupsClaim).
 */
export function bearerIdentity(token: string, verified: VerifiedBearer, app: AppConfig, groupsClaim = 'groups'): Identity {
  const { claims } = verified;
  const service = verified.kind === 'service';
  const kept: Record<string, unknown> = {};
  for (const name of policyClaimNames(app)) if (claims[name] !== undefined) kept[name] = claims[name];
  return {
    sub: verified.sub,
    // A machine client's token speaks for no person: whatever user claims it carries are not forwarded as one.
    name: service ? undefined : text(claims['name']),
    email: service ? undefined : text(claims['email']),
    emailVerified: !service && claims['email_verified'] === true,
    groups: Object.freeze(groupsAt(claims, groupsClaim)),
    amr: strings(claims['amr']),
    acr: text(claims['acr']),
    authTime: typeof claims['auth_time'] === 'number' ? claims['auth_time'] : undefined,
    sessionId: `bearer.${createHash('sha256').update(token).digest('base64url').slice(0, 32)}`,
    sessionExpiresAt: verified.expiresAt,
    app: app.id,
    claims: Object.freeze({ ...kept, ...(verified.clientId !== undefined ? { client_id: verified.clientId } : {}), scope: verified.scopes.join(' ') }),
    kind: verified.kind,
    via: 'bearer',
  };
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= 1024 ? value : undefined;
}

function strings(value: unknown): readonly string[] {
  return Array.isArray(value) ? Object.freeze(value.filter((item): item is string => typeof item === 'string' && item.length <= 1024)) : [];
}

import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';
import { GatehouseError } from '../errors/index.ts';
import { MAX_LOGOUT_TOKEN_BODY_BYTES } from '../limits.ts';
import { auditContext } from '../request/audit-context.ts';
import { idpSessionTag } from '../session/idp-session.ts';
import { verifyLogoutToken } from './logout-token.ts';
import type { PreauthDeps } from './signin-deps.ts';

/**
 * POST /.gatehouse/backchannel-logout — the identity provider says a user's
 * session there ended (OpenID Connect Back-Channel Logout 1.0). Every
 * gateway session tied to that provider session (or, when the token names
 * only the user, every session of that user signed in until now) is revoked, on every
 * instance sharing the store, and their WebSockets close. The caller learns
 * only success (200) or `invalid_request` (400); the reason is audited.
 */
export function backchannelLogout(deps: PreauthDeps): RequestHandler {
  return async (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    const refuse = (reason: string): void => {
      deps.audit.emit({ type: 'session.backchannel_logout', outcome: 'failure', code: 'ERR_BAD_REQUEST', reason, ...auditContext(req) });
      res.status(400).json({ error: 'invalid_request' });
    };

    const body = await readForm(req);
    if (typeof body === 'string') {
      refuse(body);
      return;
    }
    const tokens = body.getAll('logout_token');
    if (tokens.length !== 1 || !tokens[0]) {
      refuse('no_token');
      return;
    }

    let verified;
    try {
      verified = await verifyLogoutToken(tokens[0], deps);
    } catch (error) {
      if (!(error instanceof GatehouseError)) throw error;
      refuse(error.reason ?? 'invalid');
      return;
    }
    // With `sid` the provider session ends (as the spec prefers); with `sub` alone, every session of that user signed in until now.
    const key = await deps.sessions.revokeIdpSession(verified.sid !== undefined ? { sid: verified.sid } : { sub: verified.sub });
    // Here at once; other instances hear the revocation from the store and check their sockets the same way.
    deps.sockets.closeSession(key);
    deps.audit.emit({
      type: 'session.backchannel_logout',
      outcome: 'success',
      ...(verified.sub !== undefined ? { user: { sub: verified.sub } } : {}),
      details: verified.sid !== undefined ? { idpSession: idpSessionTag(verified.sid) } : { idpUser: idpSessionTag(verified.sub) },
      ...auditContext(req),
    });
    res.status(200).end();
  };
}

/** The form body, or why it cannot be read. Bounded: logout tokens are small. */
async function readForm(req: IncomingMessage): Promise<URLSearchParams | string> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') return 'content_type';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_LOGOUT_TOKEN_BODY_BYTES) return 'body_too_large';
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

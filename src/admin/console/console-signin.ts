/**
 * Signing an operator in to the console: the same OpenID Connect flow and client as the
 * published apps (state, nonce and PKCE in a short-lived sealed cookie, every ID token
 * check in OidcClient.exchange), with the admin listener's own origin in the redirect URI,
 * which must be registered at the identity provider. Who holds the admin role is decided
 * as for connector registration (holdsAdminRole).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as client from 'openid-client';
import { holdsAdminRole } from '../../connector-plane/admin-token.ts';
import { GatehouseError } from '../../errors/index.ts';
import { requestedScopes } from '../../signin/signin-url.ts';
import { TransactionCookies } from '../../signin/transaction-cookies.ts';
import { appendSetCookie } from '../../session/cookies.ts';
import type { ConsoleContext } from './console-context.ts';
import { writeConsoleSession } from './console-session.ts';
import { CONSOLE_CALLBACK, CONSOLE_ROOT } from './console-paths.ts';
import { sendPage } from './respond.ts';
import { messagePage } from './pages/message-page.ts';

const CONSOLE_APP = 'admin-console';

export async function startSignIn(req: IncomingMessage, res: ServerResponse, context: ConsoleContext, origin: string): Promise<void> {
  const transactions = new TransactionCookies(context.keys.transaction, context.clock);
  const transaction = await transactions.create(req, CONSOLE_APP, context.secure, CONSOLE_ROOT);
  const url = await context.oidc.authorizationUrl({
    redirect_uri: `${origin}${CONSOLE_CALLBACK}`,
    scope: requestedScopes(context.config().identityProvider.scopes, await context.oidc.scopesSupported()).join(' '),
    state: transaction.record.state,
    nonce: transaction.record.nonce,
    code_challenge: await client.calculatePKCECodeChallenge(transaction.record.verifier),
    code_challenge_method: 'S256',
  });
  for (const line of transaction.setCookies) appendSetCookie(res, line);
  res.statusCode = 302;
  res.setHeader('Location', url.href);
  res.setHeader('Cache-Control', 'no-store');
  res.end();
}

export async function finishSignIn(req: IncomingMessage, res: ServerResponse, context: ConsoleContext, origin: string, requestId: string): Promise<void> {
  const transactions = new TransactionCookies(context.keys.transaction, context.clock);
  const callbackUrl = new URL(req.url ?? '/', origin);
  const base = { clientIp: req.socket.remoteAddress, userAgent: req.headers['user-agent'], requestId };
  const fail = (error: GatehouseError): void => {
    context.audit.emit({ type: 'admin.console_signin', outcome: 'failure', code: error.code, reason: error.reason, ...base });
    sendPage(res, 400, messagePage('Sign-in failed', `The sign-in could not be completed (${error.code}). Start again from the console's address.`, requestId));
  };
  const states = callbackUrl.searchParams.getAll('state');
  if (states.length !== 1 || !states[0]) return fail(new GatehouseError('ERR_SIGNIN_STATE', 'missing_state'));
  const lookup = await transactions.find(req, context.secure, states[0]);
  if (!lookup.ok) return fail(new GatehouseError('ERR_SIGNIN_STATE', `transaction_${lookup.reason}`));
  appendSetCookie(res, transactions.expire(lookup.cookieName, context.secure));
  if (lookup.record.app !== CONSOLE_APP) return fail(new GatehouseError('ERR_SIGNIN_STATE', 'other_app'));
  let claims: Readonly<Record<string, unknown>>;
  try {
    const callback = new URL(`${origin}${CONSOLE_CALLBACK}${callbackUrl.search}`);
    const verified = await context.oidc.exchange(callback, { state: lookup.record.state, nonce: lookup.record.nonce, verifier: lookup.record.verifier });
    claims = verified.claims;
  } catch (error) {
    if (!(error instanceof GatehouseError)) throw error;
    return fail(error);
  }
  const user = {
    sub: String(claims['sub']),
    ...(typeof claims['name'] === 'string' ? { name: claims['name'] } : {}),
    ...(typeof claims['email'] === 'string' ? { email: claims['email'] } : {}),
  };
  const admin = context.adminSettings !== undefined && holdsAdminRole(claims, context.adminSettings);
  context.audit.emit({
    type: 'admin.console_signin',
    outcome: admin ? 'success' : 'failure',
    ...(admin ? {} : { reason: 'not_admin' }),
    user,
    ...base,
  });
  await writeConsoleSession(res, context.keys, context.secure, { ...user, admin });
  res.statusCode = 302;
  res.setHeader('Location', CONSOLE_ROOT);
  res.setHeader('Cache-Control', 'no-store');
  res.end();
}

/**
 * The admin console at /.gatehouse/admin/ on the admin listener: signs operators in,
 * lets only holders of the admin role past its door (others get a 403 page), checks
 * every change for its CSRF token and origin, and renders its pages. Everything it shows
 * is read from the gateway's parts at each request; it keeps no state of its own beyond
 * the traffic samples drawn as sparklines.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pathOf } from '../../health/health-handler.ts';
import { runAction } from './console-actions.ts';
import type { ConsoleContext } from './console-context.ts';
import { CONSOLE_STYLESHEET } from './console-css.ts';
import { CONSOLE_CALLBACK, CONSOLE_CSS, CONSOLE_MOVE, CONSOLE_REVOKE, CONSOLE_ROOT, CONSOLE_SIGNIN, CONSOLE_SIGNOUT } from './console-paths.ts';
import { clearConsoleSession, readConsoleSession, type ConsoleSession } from './console-session.ts';
import { finishSignIn, startSignIn } from './console-signin.ts';
import { renderPage } from './console-views.ts';
import { checkCsrf } from './csrf.ts';
import { readForm } from './form-body.ts';
import { forbiddenPage, messagePage } from './pages/message-page.ts';
import { redirect, securityHeaders, sendPage } from './respond.ts';

const HOST = /^[A-Za-z0-9.-]{1,253}(:\d{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](:\d{1,5})?$/;

export function isConsolePath(path: string): boolean {
  return path === '/.gatehouse/admin' || path.startsWith(CONSOLE_ROOT);
}

/** Answers a request under /.gatehouse/admin/; failures become a 500 page without details. */
export function handleConsole(req: IncomingMessage, res: ServerResponse, context: ConsoleContext): void {
  const requestId = randomUUID();
  res.setHeader('X-Request-Id', requestId);
  answer(req, res, context, requestId).catch(() => {
    sendPage(res, 500, messagePage('Something went wrong', 'The console could not answer this request.', requestId));
  });
}

async function answer(req: IncomingMessage, res: ServerResponse, context: ConsoleContext, requestId: string): Promise<void> {
  const path = pathOf(req.url ?? '');
  const host = req.headers.host ?? '';
  if (!HOST.test(host)) return sendPage(res, 400, messagePage('Bad request', 'The request names no valid host.', requestId));
  const origin = `${context.secure ? 'https' : 'http'}://${host}`;
  const params = new URL(req.url ?? '/', origin).searchParams;
  const method = req.method ?? 'GET';
  if (path === CONSOLE_CSS) {
    securityHeaders(res);
    res.setHeader('Content-Type', 'text/css; charset=utf-8');
    res.setHeader('Cache-Control', 'max-age=300');
    res.end(CONSOLE_STYLESHEET);
    return;
  }
  if (path === '/.gatehouse/admin') return redirect(res, CONSOLE_ROOT);
  if (method === 'GET' && path === CONSOLE_SIGNIN) return startSignIn(req, res, context, origin);
  if (method === 'GET' && path === CONSOLE_CALLBACK) return finishSignIn(req, res, context, origin, requestId);
  const session = await readConsoleSession(req, context.keys, context.secure);
  if (method === 'POST') return post(req, res, context, session, origin, path, requestId);
  if (method !== 'GET' && method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD, POST');
    return sendPage(res, 405, messagePage('Method not allowed', 'The console answers GET and POST only.', requestId));
  }
  if (!session) return redirect(res, CONSOLE_SIGNIN);
  if (!session.admin) return sendPage(res, 403, forbiddenPage(session, requestId));
  const page = await renderPage(path, params, context, session);
  if (!page) return sendPage(res, 404, messagePage('Not found', 'The console has no such page.', requestId, session));
  sendPage(res, page.status, page.page);
}

async function post(
  req: IncomingMessage,
  res: ServerResponse,
  context: ConsoleContext,
  session: ConsoleSession | undefined,
  origin: string,
  path: string,
  requestId: string,
): Promise<void> {
  const refuse = (reason: string, status = 403): void => {
    context.audit.emit({
      type: 'admin.console_refused',
      outcome: 'failure',
      reason,
      ...(session ? { user: { sub: session.sub, name: session.name, email: session.email } } : {}),
      clientIp: req.socket.remoteAddress,
      userAgent: req.headers['user-agent'],
      requestId,
      details: { path: path.slice(0, 128) },
    });
    sendPage(res, status, messagePage('Refused', `The console refused this change (${reason}). Reload the page and try again.`, requestId, session));
  };
  const form = await readForm(req);
  if (!form) return refuse('bad_form', 400);
  if (!session) return refuse('not_signed_in');
  const csrf = checkCsrf(req, form, session, origin);
  if (csrf !== undefined) return refuse(csrf);
  if (path === CONSOLE_SIGNOUT) {
    clearConsoleSession(res, context.secure);
    return sendPage(res, 200, messagePage('Signed out', 'You are signed out of the console. Your identity provider may still hold a sign-in of yours.'));
  }
  if (!session.admin) return refuse('not_admin');
  if (path === CONSOLE_REVOKE) return runAction('revoke', req, res, form, context, session, requestId);
  if (path === CONSOLE_MOVE) return runAction('move', req, res, form, context, session, requestId);
  refuse('no_such_action', 404);
}

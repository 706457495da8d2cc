/**
 * The user's renderer: a failure on the gateway becomes a page for a browser
 * that asks for one, JSON for everything else, naming the step that failed
 * and why, with the request ID. The text comes from the error table only:
 * nothing from the request is echoed except our own sign-in URL.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatehouseError } from './gatehouse-error.ts';
import { escapeHtml, OWN_PAGE_HEADERS, renderPage } from './html.ts';
import { ERROR_TABLE } from './table.ts';
import { getRequestContext } from '../request/context.ts';
import { wantsHtml } from '../request/wants-redirect.ts';

export interface ErrorResponseOptions {
  /** Where to start a fresh sign-in; shown as a link and in the JSON body. */
  readonly signInUrl?: string | undefined;
  /** Force a format; by default HTML for browsers that ask for it, JSON for everything else. */
  readonly format?: 'json' | 'html' | undefined;
  /** Fixed sentences (never request data) saying what failed and what the user can do. */
  readonly details?: readonly string[] | undefined;
  /** A button in place of "Sign in again". */
  readonly action?: { readonly label: string; readonly href: string } | undefined;
}

export interface UserErrorView {
  readonly requestId?: string | undefined;
  /** The app the request was for: configuration, never request data. */
  readonly appId?: string | undefined;
  readonly signInUrl?: string | undefined;
  readonly details?: readonly string[] | undefined;
  readonly action?: { readonly label: string; readonly href: string } | undefined;
}

/** The row's message with its `{app}` placeholder filled from configuration only. */
export function userMessage(error: GatehouseError, appId: string | undefined): string {
  return ERROR_TABLE[error.code].message.replace('{app}', appId ?? 'this application');
}

/** The sign-in link is offered only where the table says a fresh sign-in helps. */
export function offeredSignIn(error: GatehouseError, signInUrl: string | undefined): string | undefined {
  return ERROR_TABLE[error.code].offerSignIn ? signInUrl : undefined;
}

/** `WWW-Authenticate` of a 401, with the app as realm and where to sign in. */
export function authenticateHeader(appId: string | undefined, signInUrl: string | undefined): string {
  const realm = appId ?? 'gatehouse';
  return signInUrl ? `Gatehouse realm="${realm}", signin_url="${signInUrl}"` : `Gatehouse realm="${realm}"`;
}

/** RFC 6750 3.1: what a refused access token is told, by code. */
const BEARER_ERRORS: Partial<Record<GatehouseError['code'], string>> = { ERR_BEARER_TOKEN_INVALID: 'invalid_token', ERR_BEARER_SCOPE: 'insufficient_scope' };

/**
 * Every `WWW-Authenticate` challenge of an answer, or undefined for none: a refused access token gets the Bearer
 * challenge with its RFC 6750 error; any other 401 the Gatehouse one, after a Bearer one on an app that takes tokens.
 */
export function challengesFor(error: GatehouseError, appId: string | undefined, signInUrl: string | undefined, bearerApp: boolean): string | undefined {
  const realm = appId ?? 'gatehouse';
  const bearerError = BEARER_ERRORS[error.code];
  if (bearerError !== undefined) return `Bearer realm="${realm}", error="${bearerError}"`;
  // A token whose groups were too many to list is valid but cannot be judged: as a missing scope, it would not help to retry it.
  if (error.code === 'ERR_GROUPS_OVERAGE' && bearerApp) return `Bearer realm="${realm}", error="insufficient_scope"`;
  if (error.status !== 401) return undefined;
  const gatehouse = authenticateHeader(appId, offeredSignIn(error, signInUrl));
  return bearerApp ? `Bearer realm="${realm}", ${gatehouse}` : gatehouse;
}

/** The JSON body API clients get, on an HTTP answer or a refused upgrade alike. */
export function userErrorBody(error: GatehouseError, view: UserErrorView): object {
  const row = ERROR_TABLE[error.code];
  const signInUrl = offeredSignIn(error, view.signInUrl);
  return {
    error: {
      code: error.code,
      step: row.step,
      title: row.title,
      message: userMessage(error, view.appId),
      ...(view.requestId ? { requestId: view.requestId } : {}),
      ...(view.details?.length ? { details: view.details } : {}),
      ...(signInUrl ? { signInUrl } : {}),
      ...(view.action ? { action: view.action } : {}),
    },
  };
}

function errorPage(error: GatehouseError, view: UserErrorView & { readonly requestId: string }): string {
  const row = ERROR_TABLE[error.code];
  const signInUrl = offeredSignIn(error, view.signInUrl);
  const button = view.action ?? (signInUrl ? { label: 'Sign in again', href: signInUrl } : undefined);
  const action = button ? `<p><a class="button" href="${escapeHtml(button.href)}">${escapeHtml(button.label)}</a></p>` : '';
  const details = view.details?.length ? `<ul>${view.details.map((line) => `<li>${escapeHtml(line)}</li>`).join('')}</ul>` : '';
  const body = `<h1>${escapeHtml(row.title)}</h1>
<p>${escapeHtml(userMessage(error, view.appId))}</p>${details}${action}
<p class="meta">Step: ${escapeHtml(row.step)} · Code: ${escapeHtml(error.code)} · Request ID: ${escapeHtml(view.requestId)}</p>`;
  return renderPage(row.title, body);
}

/** Answers a failure on the gateway; a response already under way is cut instead. */
export function sendError(req: IncomingMessage, res: ServerResponse, error: GatehouseError, options: ErrorResponseOptions = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const context = getRequestContext(req);
  const view = {
    requestId: context?.requestId ?? 'unknown',
    appId: context?.app?.id,
    signInUrl: options.signInUrl,
    details: options.details,
    action: options.action,
  };

  res.statusCode = error.status;
  for (const [name, value] of Object.entries(OWN_PAGE_HEADERS)) res.setHeader(name, value);
  const challenges = challengesFor(error, view.appId, view.signInUrl, context?.app?.bearer !== undefined);
  if (challenges !== undefined) res.setHeader('WWW-Authenticate', challenges);

  if (options.format === 'html' || (options.format === undefined && wantsHtml(req))) {
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(req.method === 'HEAD' ? undefined : errorPage(error, view));
    return;
  }
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(req.method === 'HEAD' ? undefined : JSON.stringify(userErrorBody(error, view)));
}

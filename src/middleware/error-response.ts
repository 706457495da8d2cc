import type { IncomingMessage, ServerResponse } from 'node:http';
import { ERROR_TABLE, type GatehouseError } from '../errors.ts';
import { getRequestContext } from '../request/context.ts';
import { escapeHtml, OWN_PAGE_HEADERS, renderPage } from './html.ts';
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

/**
 * Answers a failure with a page (or JSON for API clients) that names the step
 * that failed and why, with the request ID. The text comes from the error
 * table only: nothing from the request is echoed except our own sign-in URL.
 */
export function sendError(req: IncomingMessage, res: ServerResponse, error: GatehouseError, options: ErrorResponseOptions = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const context = getRequestContext(req);
  const requestId = context?.requestId ?? 'unknown';
  const description = ERROR_TABLE[error.code];
  const signInUrl = description.offerSignIn ? options.signInUrl : undefined;
  // Only configuration (the app id), never request data, fills the placeholder.
  const message = description.message.replace('{app}', context?.app?.id ?? 'this application');

  res.statusCode = error.status;
  for (const [name, value] of Object.entries(OWN_PAGE_HEADERS)) res.setHeader(name, value);
  if (error.status === 401) {
    const realm = context?.app?.id ?? 'gatehouse';
    res.setHeader('WWW-Authenticate', signInUrl ? `Gatehouse realm="${realm}", signin_url="${signInUrl}"` : `Gatehouse realm="${realm}"`);
  }

  if (options.format === 'html' || (options.format === undefined && wantsHtml(req))) {
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    const button = options.action ?? (signInUrl ? { label: 'Sign in again', href: signInUrl } : undefined);
    const action = button ? `<p><a class="button" href="${escapeHtml(button.href)}">${escapeHtml(button.label)}</a></p>` : '';
    const details = options.details?.length ? `<ul>${options.details.map((line) => `<li>${escapeHtml(line)}</li>`).join('')}</ul>` : '';
    const body = `<h1>${escapeHtml(description.title)}</h1>
<p>${escapeHtml(message)}</p>${details}${action}
<p class="meta">Step: ${escapeHtml(description.step)} · Code: ${escapeHtml(error.code)} · Request ID: ${escapeHtml(requestId)}</p>`;
    res.end(req.method === 'HEAD' ? undefined : renderPage(description.title, body));
    return;
  }
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  const payload = {
    error: {
      code: error.code,
      step: description.step,
      title: description.title,
      message,
      requestId,
      ...(options.details?.length ? { details: options.details } : {}),
      ...(signInUrl ? { signInUrl } : {}),
      ...(options.action ? { action: options.action } : {}),
    },
  };
  res.end(req.method === 'HEAD' ? undefined : JSON.stringify(payload));
}

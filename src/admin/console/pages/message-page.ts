/** A page that only says something: a refusal, a failed sign-in, signed out. */
import { html, type Html } from '../html.ts';
import { shell } from '../layout.ts';
import type { ConsoleSession } from '../console-session.ts';

export function messagePage(title: string, message: string, requestId?: string, session?: ConsoleSession): Html {
  return shell(
    title,
    html`<p class="message">${message}</p>
      ${requestId !== undefined ? html`<p class="muted">Request ID: <code>${requestId}</code></p>` : ''}`,
    session,
  );
}

export function forbiddenPage(session: ConsoleSession, requestId: string): Html {
  return messagePage(
    'Not an administrator',
    `You are signed in as ${session.email ?? session.name ?? session.sub}, who does not hold the administrator role this console needs. Ask an administrator to grant it, then sign in again.`,
    requestId,
    session,
  );
}

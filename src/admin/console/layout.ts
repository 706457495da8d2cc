/** The page shell every console page shares: title, navigation, who is signed in, sign-out. */
import { html, type Html } from './html.ts';
import { CONSOLE_APPS, CONSOLE_CONNECTORS, CONSOLE_CSS, CONSOLE_EVENTS, CONSOLE_ROOT, CONSOLE_SIGNOUT } from './console-paths.ts';
import type { ConsoleSession } from './console-session.ts';

const NAV: ReadonlyArray<readonly [string, string]> = [
  [CONSOLE_ROOT, 'Overview'],
  [CONSOLE_CONNECTORS, 'Connectors'],
  [CONSOLE_APPS, 'Apps'],
  [CONSOLE_EVENTS, 'Sign-ins and denials'],
];

export function shell(title: string, body: Html, session?: ConsoleSession, current?: string): Html {
  const who = session ? (session.email ?? session.name ?? session.sub) : undefined;
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title} · Gatehouse admin</title>
        <link rel="stylesheet" href="${CONSOLE_CSS}" />
      </head>
      <body>
        <header>
          <span class="brand">Gatehouse admin</span>
          ${session?.admin ? html`<nav>${NAV.map(([href, label]) => html`<a href="${href}" ${href === current ? html` aria-current="page"` : ''}>${label}</a>`)}</nav>` : ''}
          ${
            who !== undefined
              ? html`<form method="post" action="${CONSOLE_SIGNOUT}" class="who">
                  <span id="who">${who}</span><input type="hidden" name="csrf" value="${session?.csrf}" /><button type="submit">Sign out</button>
                </form>`
              : ''
          }
        </header>
        <main>
          <h1>${title}</h1>
          ${body}
        </main>
      </body>
    </html> `;
}

/** Apps: where each is published, how it is reached, its policies in plain words, and the "what if" form. */
import type { AppConfig } from '../../../config/parse.ts';
import { CONSOLE_APPS } from '../console-paths.ts';
import type { ConnectorView } from '../connector-view.ts';
import { html, type Html } from '../html.ts';
import { stateWords, whatItAsks, whoItAppliesTo } from '../policy-words.ts';
import type { WhatIfAnswer, WhatIfInput } from '../what-if.ts';

export interface AppWhatIf {
  readonly app: string;
  readonly input: WhatIfInput;
  readonly answer: WhatIfAnswer;
}

export function appsBody(apps: readonly AppConfig[], connectors: readonly ConnectorView[], asked: AppWhatIf | undefined): Html {
  return html`${apps.map((app) => appSection(app, connectors, asked?.app === app.id ? asked : undefined))}`;
}

function appSection(app: AppConfig, connectors: readonly ConnectorView[], asked: AppWhatIf | undefined): Html {
  const online = connectors.filter((connector) => connector.group === app.connectorGroup && connector.online).length;
  return html`<section class="app" id="app-${app.id}">
    <h2>${app.id}</h2>
    <dl>
      <dt>External URL</dt>
      <dd><a href="${app.externalUrl}">${app.externalUrl}</a></dd>
      <dt>Pre-authentication</dt>
      <dd>${app.preauth === 'oidc' ? 'sign-in required (OpenID Connect)' : 'pass-through (no sign-in)'}</dd>
      <dt>Connector group</dt>
      <dd>
        ${app.connectorGroup}:
        <span class="${online > 0 ? 'ok' : 'bad'}">${online > 0 ? `${online} connector${online === 1 ? '' : 's'} online` : 'no connector online'}</span>
      </dd>
    </dl>
    <h3>Policies</h3>
    ${
      app.policies.length === 0
        ? html`<p class="muted">No policy: ${app.preauth === 'oidc' ? 'every signed-in user is allowed.' : 'nobody is asked to sign in.'}</p>`
        : html`<ol class="policies">
            ${app.policies.map((policy) => html`<li><strong>${policy.name}</strong> (${stateWords(policy)}): ${whoItAppliesTo(policy)}. ${whatItAsks(policy)}</li>`)}
          </ol>`
    }
    ${app.preauth === 'oidc' ? whatIfForm(app, asked) : ''}
  </section>`;
}

function whatIfForm(app: AppConfig, asked: AppWhatIf | undefined): Html {
  const input = asked?.input;
  return html`<h3>What if</h3>
    <form method="get" action="${CONSOLE_APPS}#app-${app.id}" class="whatif">
      <input type="hidden" name="app" value="${app.id}" />
      <label>User <input name="user" value="${input?.user ?? ''}" placeholder="dana@example.com" required /></label>
      <label>Groups <input name="groups" value="${input?.groups.join(', ') ?? ''}" placeholder="staff, developers" /></label>
      <label>Client address <input name="ip" value="${input?.ip ?? ''}" placeholder="203.0.113.7" /></label>
      <label>Path <input name="path" value="${input?.path ?? ''}" placeholder="/" /></label>
      <label><input type="checkbox" name="mfa" value="yes" ${input?.mfa ? html` checked` : ''} /> signed in with MFA</label>
      <button type="submit">Decide</button>
    </form>
    ${asked ? answer(asked.answer) : ''}`;
}

function answer({ decision, told }: WhatIfAnswer): Html {
  const word = decision.effect === 'allow' ? 'Allowed' : decision.effect === 'deny' ? 'Denied' : 'Asked to sign in again (step-up)';
  return html`<div class="decision ${decision.effect}" id="decision">
    <p><strong>${word}</strong></p>
    ${
      told.length > 0
        ? html`<p>The user is told:</p>
            <ul>
              ${told.map((line) => html`<li>${line}</li>`)}
            </ul>`
        : ''
    }
    <p class="muted">
      Policies:
      ${decision.outcomes.map((outcome) => `${outcome.policy}: ${outcome.applied ? (outcome.satisfied ? 'applied, satisfied' : `applied, not satisfied (${outcome.reason})`) : 'did not apply'}`).join('; ') || 'none'}
    </p>
  </div>`;
}

/** Connectors: each with its state, certificate and tunnels; revoke and move, each confirmed on a page of its own. */
import type { ConnectorView } from '../connector-view.ts';
import { CONSOLE_CONFIRM, CONSOLE_MOVE, CONSOLE_REVOKE } from '../console-paths.ts';
import { ago, span, until } from '../format.ts';
import { html, type Html } from '../html.ts';

export function connectorsBody(connectors: readonly ConnectorView[], groups: readonly string[], now: number, notice?: string): Html {
  return html`${notice !== undefined ? html`<p class="notice" id="notice">${notice}</p>` : ''}
    <table class="connectors">
      <thead>
        <tr>
          <th>Connector</th>
          <th>Group</th>
          <th>State</th>
          <th>Version</th>
          <th>Address seen</th>
          <th>Last seen</th>
          <th>Certificate</th>
          <th>Tunnels</th>
          <th>Actions</th>
        </tr>
      </thead>
      <tbody>
        ${connectors.map((connector) => row(connector, groups, now))}
      </tbody>
    </table>
    ${connectors.length === 0 ? html`<p class="muted">No connector is registered yet: <code>gatehouse-connector register</code> adds one.</p>` : ''}`;
}

function row(connector: ConnectorView, groups: readonly string[], now: number): Html {
  const state = connector.revoked ? 'revoked' : connector.online ? 'online' : 'offline';
  const age = Math.max(0, Math.round(now / 1000 - connector.certificateIssuedAt));
  return html`<tr data-connector="${connector.id}" data-state="${state}">
    <td><code>${connector.id}</code>${connector.name !== undefined ? html`<br /><span class="muted">${connector.name}</span>` : ''}</td>
    <td>${connector.group}</td>
    <td class="state ${state}">${state}</td>
    <td>${connector.version ?? '–'}</td>
    <td>${connector.address ?? '–'}</td>
    <td>${ago(connector.lastSeen, now)}</td>
    <td>${span(age)} old, expires ${until(connector.certificateNotAfter, now)}${connector.renewalDue ? html` <span class="warn">renewal due</span>` : ''}</td>
    <td>${connector.tunnels} (${connector.streamsInFlight} streams)</td>
    <td>${connector.revoked ? '' : actions(connector, groups)}</td>
  </tr>`;
}

function actions(connector: ConnectorView, groups: readonly string[]): Html {
  const others = groups.filter((group) => group !== connector.group);
  return html`<form method="get" action="${CONSOLE_CONFIRM}" class="inline">
      <input type="hidden" name="action" value="revoke" /><input type="hidden" name="id" value="${connector.id}" /><button type="submit" class="danger">
        Revoke…
      </button>
    </form>
    ${
      others.length > 0
        ? html`<form method="get" action="${CONSOLE_CONFIRM}" class="inline">
            <input type="hidden" name="action" value="move" /><input type="hidden" name="id" value="${connector.id}" /><select
              name="group"
              aria-label="move to group"
            >
              ${others.map((group) => html`<option>${group}</option>`)}</select
            ><button type="submit">Move…</button>
          </form>`
        : ''
    }`;
}

/** The confirmation: says what will happen, and posts it with the session's CSRF token. */
export function confirmBody(action: 'revoke' | 'move', connector: ConnectorView, csrf: string, group?: string): Html {
  const what =
    action === 'revoke'
      ? `Revoke connector ${connector.id}${connector.name !== undefined ? ` (${connector.name})` : ''}? Its certificate stops being accepted at once and its tunnels close; it must be registered again to come back.`
      : `Move connector ${connector.id} from group ${connector.group} to group ${group ?? ''}? It then serves the apps of ${group ?? ''} only.`;
  return html`<p class="confirm">${what}</p>
    <form method="post" action="${action === 'revoke' ? CONSOLE_REVOKE : CONSOLE_MOVE}">
      <input type="hidden" name="csrf" value="${csrf}" /><input type="hidden" name="id" value="${connector.id}" />
      ${group !== undefined ? html`<input type="hidden" name="group" value="${group}" />` : ''}
      <button type="submit" class="${action === 'revoke' ? 'danger' : ''}" id="confirm">${action === 'revoke' ? 'Revoke' : 'Move'}</button>
      <a href="${'/.gatehouse/admin/connectors'}">Cancel</a>
    </form>`;
}

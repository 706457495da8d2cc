/** Sign-ins and denials: recent audit events, filtered; each names its request id and links to its user's activity. */
import type { AuditEvent } from '../../../audit/events.ts';
import { CONSOLE_EVENTS } from '../console-paths.ts';
import { EVENT_KINDS, type EventFilters } from '../event-filter.ts';
import { html, query, type Html } from '../html.ts';

export function eventsBody(events: readonly AuditEvent[], filters: EventFilters, apps: readonly string[], available: boolean): Html {
  const field = (name: 'user' | 'reason' | 'request', label: string): Html =>
    html`<label>${label} <input name="${name}" value="${filters[name] ?? ''}" size="18" /></label>`;
  return html`<form method="get" action="${CONSOLE_EVENTS}" class="filters">
      <label
        >Show
        <select name="kind">
          ${Object.entries(EVENT_KINDS).map(([kind, { label }]) => html`<option value="${kind}" ${kind === filters.kind ? html` selected` : ''}>${label}</option>`)}
        </select></label
      >
      ${field('user', 'User')}
      <label
        >App
        <select name="app">
          <option value="">any</option>
          ${apps.map((app) => html`<option${app === filters.app ? html` selected` : ''}>${app}</option>`)}
        </select></label
      >
      <label
        >Outcome
        <select name="outcome">
          <option value="">any</option>
          ${(['success', 'failure', 'info'] as const).map((outcome) => html`<option${outcome === filters.outcome ? html` selected` : ''}>${outcome}</option>`)}
        </select></label
      >
      ${field('reason', 'Reason or code')}${field('request', 'Request ID')}
      <button type="submit">Filter</button> <a href="${CONSOLE_EVENTS}">Clear</a>
    </form>
    ${filters.user !== undefined ? html`<p class="muted">Recent activity of <strong id="activity-of">${filters.user}</strong>.</p>` : ''}
    ${!available ? html`<p class="bad">This gateway keeps no recent events.</p>` : ''}
    <table class="events">
      <thead>
        <tr>
          <th>Time</th>
          <th>Event</th>
          <th>Outcome</th>
          <th>User</th>
          <th>App</th>
          <th>Reason</th>
          <th>Client</th>
          <th>Request ID</th>
        </tr>
      </thead>
      <tbody>
        ${events.map(row)}
      </tbody>
    </table>
    ${events.length === 0 ? html`<p class="muted" id="no-events">No recent event matches.</p>` : ''}`;
}

function row(event: AuditEvent): Html {
  const user = event.user?.email ?? event.user?.sub;
  const reason = [event.code, event.reason].filter((part) => part !== undefined).join(' ');
  return html`<tr class="${event.outcome}" data-type="${event.type}">
    <td>${event.time.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}</td>
    <td>${event.type}</td>
    <td>${event.outcome}</td>
    <td>${user !== undefined ? html`<a class="user" href="${CONSOLE_EVENTS}${query({ user: event.user?.sub })}">${user}</a>` : '–'}</td>
    <td>${event.app ?? '–'}</td>
    <td class="reason">${reason === '' ? '–' : reason}</td>
    <td>${event.clientIp ?? '–'}</td>
    <td>
      ${event.requestId !== undefined ? html`<a href="${CONSOLE_EVENTS}${query({ request: event.requestId })}"><code>${event.requestId}</code></a>` : '–'}
    </td>
  </tr>`;
}

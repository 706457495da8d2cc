/** Overview: per connector group, is it up and how busy; certificates expiring soon; readiness. */
import type { GroupInstance } from '../../../connector-plane/instance-overview.ts';
import type { Readiness } from '../../../health/readiness.ts';
import type { ConnectorView } from '../connector-view.ts';
import { EXPIRING_SOON_SECONDS, plural, until } from '../format.ts';
import { html, type Html } from '../html.ts';
import { sparkline } from '../sparkline.ts';
import type { TrafficPoint } from '../traffic-ring.ts';

export interface GroupOverview {
  readonly group: string;
  readonly apps: readonly string[];
  readonly traffic: readonly TrafficPoint[];
  /** The group's tunnels on each gateway instance sharing the store (groupInstances); without it, this instance's only. */
  readonly instances?: readonly GroupInstance[];
}

export function overviewBody(
  groups: readonly GroupOverview[],
  connectors: readonly ConnectorView[],
  readiness: Pick<Readiness, 'status'> & Partial<Pick<Readiness, 'checks'>>,
  now: number,
): Html {
  const live = connectors.filter((connector) => !connector.revoked);
  const expiring = live.filter((connector) => Date.parse(connector.certificateNotAfter) - now < EXPIRING_SOON_SECONDS * 1000 || connector.renewalDue);
  return html`<section>
      <h2>Connector groups</h2>
      <table class="groups">
        <thead>
          <tr>
            <th>Group</th>
            <th>Apps</th>
            <th>Connectors online</th>
            <th>Offline</th>
            <th>Tunnels (per instance)</th>
            <th>Streams in flight</th>
            <th>Requests/s (15 min)</th>
            <th>Error rate (15 min)</th>
          </tr>
        </thead>
        <tbody>
          ${groups.map((entry) => groupRow(entry, live))}
        </tbody>
      </table>
    </section>
    <section>
      <h2>Certificates expiring soon</h2>
      ${
        expiring.length === 0
          ? html`<p class="ok">No connector certificate expires within ${EXPIRING_SOON_SECONDS / 86_400} days.</p>`
          : html`<ul>
              ${expiring.map((connector) => html`<li><code>${connector.id}</code> (${connector.group}): expires ${until(connector.certificateNotAfter, now)}${connector.renewalDue ? ', renewal due' : ''}</li>`)}
            </ul>`
      }
    </section>
    <section>
      <h2>Readiness</h2>
      <p id="readiness" class="${readiness.status === 'ready' ? 'ok' : 'bad'}">${readiness.status === 'ready' ? 'Ready' : 'Not ready'}</p>
      ${readiness.checks ? readinessList(readiness.checks) : ''}
    </section>`;
}

function groupRow(entry: GroupOverview, connectors: readonly ConnectorView[]): Html {
  const own = connectors.filter((connector) => connector.group === entry.group);
  const online = own.filter((connector) => connector.online);
  const last = entry.traffic.at(-1);
  return html`<tr data-group="${entry.group}">
    <td>${entry.group}</td>
    <td>${entry.apps.join(', ')}</td>
    <td class="${online.length > 0 ? 'ok' : 'bad'}" data-online="${online.length}">${online.length}</td>
    <td data-offline="${own.length - online.length}">${own.length - online.length}</td>
    ${
      entry.instances
        ? perInstance(entry.instances)
        : html`<td>${own.map((connector) => connector.tunnels).reduce((a, b) => a + b, 0)}</td>
            <td>${own.map((connector) => connector.streamsInFlight).reduce((a, b) => a + b, 0)}</td>`
    }
    <td>
      ${sparkline(
        entry.traffic.map((point) => point.perSecond),
        `requests per second, ${entry.group}`,
      )}
      ${last ? last.perSecond.toFixed(1) : '–'}
    </td>
    <td>
      ${sparkline(
        entry.traffic.map((point) => point.errorRate * 100),
        `error rate, ${entry.group}`,
      )}
      ${last ? `${(last.errorRate * 100).toFixed(1)} %` : '–'}
    </td>
  </tr>`;
}

/** One line per instance in each cell: its id (its URL on hover) and its figure, or why there is none. */
function perInstance(instances: readonly GroupInstance[]): Html {
  const cell = (figure: (instance: GroupInstance) => number | null, kind: string) =>
    html`<td>
      <ul class="instances">
        ${instances.map((instance) => {
          const value = figure(instance);
          const shown = value === null ? 'unknown' : `${instance.partial ? '≥ ' : ''}${value}`;
          return html`<li data-instance="${instance.id}" data-${kind}="${value ?? 'unknown'}" class="${instance.state === 'live' ? '' : 'muted'}">
            <code title="${instance.url ?? ''}">${instance.id}</code>: ${shown}${instance.state === 'stale' ? ' (stale)' : ''}
          </li>`;
        })}
      </ul>
    </td>`;
  return html`${cell((instance) => instance.tunnels, 'tunnels')}${cell((instance) => instance.streamsInFlight, 'streams')}`;
}

function readinessList(checks: Readiness['checks']): Html {
  const rows: Array<readonly [string, { ok: boolean; detail: string }]> = [
    ['identity provider', checks.idp],
    ['store', checks.store],
    ...Object.entries(checks.connectors).map(([group, check]) => [`connectors: ${group}`, check] as const),
    ...(checks.shutdown ? [['shutdown', checks.shutdown] as const] : []),
  ];
  return html`<ul class="checks">
      ${rows.map(([name, check]) => html`<li class="${check.ok ? 'ok' : 'bad'}">${check.ok ? '✓' : '✗'} ${name}: ${check.detail}</li>`)}
    </ul>
    <p class="muted">${plural(rows.filter(([, check]) => !check.ok).length, 'check')} failing.</p>`;
}

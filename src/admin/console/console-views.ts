/** The console's pages (GET): each gathers what it shows from the gateway's parts, then renders it. */
import { connectorGroups } from '../../connector-plane/connector-lifecycle.ts';
import { groupInstances } from '../../connector-plane/instance-overview.ts';
import { actionNotice } from './console-actions.ts';
import type { ConsoleContext } from './console-context.ts';
import { CONSOLE_APPS, CONSOLE_CONNECTORS, CONSOLE_EVENTS, CONSOLE_ROOT } from './console-paths.ts';
import type { ConsoleSession } from './console-session.ts';
import { readConnectorViews, type ConnectorView } from './connector-view.ts';
import { readFilters, recentQuery } from './event-filter.ts';
import type { Html } from './html.ts';
import { shell } from './layout.ts';
import { appsBody } from './pages/apps-page.ts';
import { confirmBody, connectorsBody } from './pages/connectors-page.ts';
import { eventsBody } from './pages/events-page.ts';
import { messagePage } from './pages/message-page.ts';
import { overviewBody } from './pages/overview-page.ts';
import { readWhatIf, whatIf } from './what-if.ts';

export interface PageAnswer {
  readonly status: number;
  readonly page: Html;
}

async function connectorsNow(context: ConsoleContext): Promise<ConnectorView[]> {
  const service = context.connectors;
  if (!service?.initialized) return [];
  const parts = { registry: service.registry, events: service.events, tunnels: service.tunnels, renewalAge: service.config.renewalAge };
  return readConnectorViews(parts, context.recentEvents, context.clock());
}

function groupsOf(context: ConsoleContext, connectors: readonly ConnectorView[]): string[] {
  return [...new Set([...connectorGroups(context.config().apps), ...connectors.map((connector) => connector.group)])].sort();
}

export async function renderPage(path: string, params: URLSearchParams, context: ConsoleContext, session: ConsoleSession): Promise<PageAnswer | undefined> {
  const now = context.clock();
  const page = (title: string, body: Html, current: string, status = 200): PageAnswer => ({ status, page: shell(title, body, session, current) });
  const config = context.config();
  if (path === CONSOLE_ROOT) {
    const connectors = await connectorsNow(context);
    const groups = groupsOf(context, connectors).map((group) => {
      const apps = config.apps.filter((app) => app.connectorGroup === group).map((app) => app.id);
      // Before the connector listener runs there is no instance record: this instance's own tunnels, as without a connector service.
      const live = context.connectors?.instances() ?? [];
      const instances = live.length > 0 ? { instances: groupInstances(group, connectors, live) } : {};
      return { group, apps, traffic: context.traffic.series(new Set(apps)), ...instances };
    });
    return page('Overview', overviewBody(groups, connectors, await context.readiness(), now), CONSOLE_ROOT);
  }
  if (path === CONSOLE_CONNECTORS) {
    const connectors = await connectorsNow(context);
    return page('Connectors', connectorsBody(connectors, groupsOf(context, connectors), now, actionNotice(params)), CONSOLE_CONNECTORS);
  }
  if (path === `${CONSOLE_CONNECTORS}/confirm`) {
    const connectors = await connectorsNow(context);
    const connector = connectors.find((candidate) => candidate.id === params.get('id') && !candidate.revoked);
    const action = params.get('action');
    const group = params.get('group') ?? undefined;
    if (
      !connector ||
      (action !== 'revoke' && action !== 'move') ||
      (action === 'move' && (group === undefined || !groupsOf(context, connectors).includes(group)))
    ) {
      return { status: 404, page: messagePage('No such connector', 'There is no active connector with that id, or no such group.', undefined, session) };
    }
    return page(action === 'revoke' ? 'Revoke a connector' : 'Move a connector', confirmBody(action, connector, session.csrf, group), CONSOLE_CONNECTORS);
  }
  if (path === CONSOLE_APPS) {
    const connectors = await connectorsNow(context);
    const app = config.apps.find((candidate) => candidate.id === params.get('app'));
    const input = readWhatIf(params);
    const asked = app && input ? { app: app.id, input, answer: whatIf(app, config, input, now) } : undefined;
    return page('Apps', appsBody(config.apps, connectors, asked), CONSOLE_APPS);
  }
  if (path === CONSOLE_EVENTS) {
    const filters = readFilters(params);
    const events = (await context.recentEvents?.query(recentQuery(filters))) ?? [];
    const body = eventsBody(
      events,
      filters,
      config.apps.map((candidate) => candidate.id),
      context.recentEvents !== undefined,
    );
    return page('Sign-ins and denials', body, CONSOLE_EVENTS);
  }
  return undefined;
}

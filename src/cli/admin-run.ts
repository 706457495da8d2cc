/** Runs one `gatehouse admin …` command against the admin API and prints its answer (a table, or JSON with --json). */
import { AUDIT_EVENTS_PATH } from '../audit/audit-query-router.ts';
import type { AuditEvent } from '../audit/events.ts';
import { AUDIT_QUERY_MAX_LIMIT } from '../limits.ts';
import { ADMIN_APPS_PATH, ADMIN_CONNECTORS_PATH, ADMIN_OVERVIEW_PATH, ADMIN_WHAT_IF_SUFFIX } from '../protocol/connector-api.ts';
import { AdminCallError, adminClient, adminClientOptions, type AdminClient } from './admin-client.ts';
import {
  appsText,
  connectorsTable,
  eventsTable,
  overviewText,
  whatIfText,
  type AppRow,
  type ConnectorRow,
  type OverviewBody,
  type WhatIfAnswerBody,
} from './admin-tables.ts';
import { flagOption, listOption, stringOption, type OptionValues } from './usage.ts';

/** A usage mistake (exit 2), or what to call and how to print it. */
type Plan = string | ((client: AdminClient) => Promise<{ readonly json: unknown; readonly text: string }>);

const OUTCOMES = ['success', 'failure', 'info'] as const;

function onlyGroup(values: OptionValues): string | undefined | false {
  const groups = listOption(values, 'group') ?? [];
  return groups.length > 1 ? false : groups[0];
}

function plan(command: string, values: OptionValues, id: string | undefined): Plan {
  const user = stringOption(values, 'user');
  const app = stringOption(values, 'app');
  if (command === 'admin connectors revoke' || command === 'admin connectors move') {
    if (id === undefined || id === '') return `${command.slice(6)}: the connector ID is required`;
    const path = `${ADMIN_CONNECTORS_PATH}/${encodeURIComponent(id)}`;
    if (command.endsWith('revoke')) return async (client) => ({ json: await client.call('POST', `${path}/revoke`), text: `Revoked connector ${id}.\n` });
    const group = onlyGroup(values);
    if (group === false) return '--group may be given once here';
    if (group === undefined) return 'connectors move: --group GROUP is required';
    return async (client) => ({ json: await client.call('POST', `${path}/group`, { group }), text: `Moved connector ${id} to group ${group}.\n` });
  }
  if (command === 'admin connectors') {
    const group = onlyGroup(values);
    if (group === false) return '--group may be given once here';
    return async (client) => {
      const answer = await client.call<{ connectors: ConnectorRow[] }>('GET', ADMIN_CONNECTORS_PATH);
      const connectors = answer.connectors.filter((connector) => group === undefined || connector.group === group);
      return { json: { connectors }, text: connectorsTable(connectors) };
    };
  }
  if (command === 'admin apps') {
    return async (client) => {
      const answer = await client.call<{ apps: AppRow[] }>('GET', ADMIN_APPS_PATH);
      return { json: answer, text: appsText(answer.apps) };
    };
  }
  if (command === 'admin what-if') {
    if (app === undefined) return 'what-if: --app APP is required';
    if (user === undefined) return 'what-if: --user USER is required';
    const ip = stringOption(values, 'ip');
    const path = stringOption(values, 'path');
    const body = { user, groups: listOption(values, 'group') ?? [], mfa: flagOption(values, 'mfa'), ...(ip ? { ip } : {}), ...(path ? { path } : {}) };
    return async (client) => {
      const answer = await client.call<WhatIfAnswerBody>('POST', `${ADMIN_APPS_PATH}/${encodeURIComponent(app)}${ADMIN_WHAT_IF_SUFFIX}`, body);
      return { json: answer, text: whatIfText(answer, user) };
    };
  }
  if (command === 'admin events') {
    const outcome = stringOption(values, 'outcome');
    if (outcome !== undefined && !(OUTCOMES as readonly string[]).includes(outcome)) return `--outcome must be success, failure or info, not "${outcome}"`;
    const limitText = stringOption(values, 'limit');
    const limit = limitText === undefined ? 100 : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > AUDIT_QUERY_MAX_LIMIT)
      return `--limit must be a number from 1 to ${AUDIT_QUERY_MAX_LIMIT}, not "${limitText}"`;
    const reason = stringOption(values, 'reason');
    const requestId = stringOption(values, 'request-id');
    // Every filter is the query API's own: the service filters, as it does for the console.
    const query = new URLSearchParams({
      ...(user ? { user } : {}),
      ...(app ? { app } : {}),
      ...(outcome ? { outcome } : {}),
      ...(reason ? { reason } : {}),
      ...(requestId ? { requestId } : {}),
      limit: String(limit),
    });
    return async (client) => {
      const { events } = await client.call<{ events: AuditEvent[] }>('GET', `${AUDIT_EVENTS_PATH}?${query.toString()}`);
      return { json: { events }, text: eventsTable(events) };
    };
  }
  return async (client) => {
    const answer = await client.call<OverviewBody>('GET', ADMIN_OVERVIEW_PATH);
    return { json: answer, text: overviewText(answer) };
  };
}

/** Resolves with the exit code: 0 done, 1 failed, 2 usage error, 3 token refused. */
export async function runAdmin(command: string, values: OptionValues, id: string | undefined, usageError: (message: string) => number): Promise<number> {
  const planned = plan(command, values, id);
  if (typeof planned === 'string') return usageError(planned);
  const options = adminClientOptions(stringOption(values, 'service'), stringOption(values, 'ca-file'), process.env['GATEHOUSE_ADMIN_TOKEN']);
  if (typeof options === 'string') return usageError(options);
  try {
    const { json, text } = await planned(adminClient(options));
    process.stdout.write(flagOption(values, 'json') ? `${JSON.stringify(json, null, 2)}\n` : text);
    return 0;
  } catch (error) {
    if (!(error instanceof AdminCallError)) throw error;
    process.stderr.write(`gatehouse ${command}: ${error.message}\n`);
    return error.exitCode;
  }
}

/** `gatehouse admin`'s answers for people: aligned columns, one line per thing, the policies and reasons in words. */
import { ago, span, until } from '../admin/console/format.ts';

/** Columns padded to their widest cell; the last one is not padded. */
export function table(head: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = head.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)].join('\n') + '\n';
}

export interface ConnectorRow {
  readonly id: string;
  readonly group: string;
  readonly name: string | null;
  readonly revoked: boolean;
  readonly connected: boolean;
  readonly online: boolean;
  readonly version: string | null;
  readonly address: string | null;
  readonly lastSeen: string | null;
  readonly tunnels: number;
  readonly streamsInFlight: number;
  readonly certificate: { readonly notAfter: string; readonly ageSeconds: number; readonly expiresInSeconds: number };
  readonly renewalDue: boolean;
}

export function connectorsTable(connectors: readonly ConnectorRow[], now = Date.now()): string {
  if (connectors.length === 0) return 'No connector registered.\n';
  return table(
    ['ID', 'GROUP', 'NAME', 'STATE', 'VERSION', 'ADDRESS SEEN', 'LAST SEEN', 'TUNNELS', 'CERTIFICATE'],
    connectors.map((connector) => [
      connector.id,
      connector.group,
      connector.name ?? '-',
      connector.revoked ? 'revoked' : connector.online ? 'online' : 'offline',
      connector.version ?? '-',
      connector.address ?? '-',
      ago(connector.lastSeen ?? undefined, now),
      `${connector.tunnels} (${connector.streamsInFlight} streams)`,
      `${span(connector.certificate.ageSeconds)} old, expires ${until(connector.certificate.notAfter, now)} (${connector.certificate.notAfter})${connector.renewalDue ? ', renewal due' : ''}`,
    ]),
  );
}

export interface AppRow {
  readonly id: string;
  readonly externalUrl: string;
  readonly preauth: string;
  readonly connectorGroup: string;
  readonly group: { readonly connectorsOnline: number; readonly connectorsOffline: number };
  readonly policies: ReadonlyArray<{ readonly name: string; readonly stateWords: string; readonly appliesTo: string; readonly asks: string }>;
}

export function appsText(apps: readonly AppRow[]): string {
  const head = table(
    ['APP', 'EXTERNAL URL', 'PRE-AUTH', 'GROUP', 'CONNECTORS ONLINE'],
    apps.map((app) => [
      app.id,
      app.externalUrl,
      app.preauth,
      app.connectorGroup,
      `${app.group.connectorsOnline} of ${app.group.connectorsOnline + app.group.connectorsOffline}`,
    ]),
  );
  const policies = apps
    .filter((app) => app.policies.length > 0)
    .map((app) => [`\n${app.id}:`, ...app.policies.map((policy) => `  ${policy.name} (${policy.stateWords}): ${policy.appliesTo}. ${policy.asks}`)].join('\n'));
  return `${head}${policies.join('\n')}${policies.length > 0 ? '\n' : ''}`;
}

export interface WhatIfAnswerBody {
  readonly app: string;
  readonly effect: 'allow' | 'deny' | 'step-up';
  readonly reason: string | null;
  readonly told: readonly string[];
  readonly passThrough: boolean;
  readonly outcomes: ReadonlyArray<{ readonly policy: string; readonly applied: boolean; readonly satisfied: boolean; readonly reason: string }>;
}

const EFFECT_WORDS = { allow: 'allowed', deny: 'denied', 'step-up': 'asked to sign in again (step-up)' } as const;

export function whatIfText(answer: WhatIfAnswerBody, user: string): string {
  const why = answer.passThrough ? ' (a pass-through app: nobody signs in, no policy applies)' : answer.reason ? ` (${answer.reason})` : '';
  const lines = [`${user} on ${answer.app}: ${EFFECT_WORDS[answer.effect] ?? answer.effect}${why}`];
  if (answer.told.length > 0) lines.push('The user is told:', ...answer.told.map((line) => `  ${line}`));
  for (const outcome of answer.outcomes) {
    lines.push(
      `  policy ${outcome.policy}: ${outcome.applied ? (outcome.satisfied ? 'applied, satisfied' : `applied, not satisfied (${outcome.reason})`) : 'did not apply'}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export interface EventRow {
  readonly time: string;
  readonly type: string;
  readonly outcome: string;
  readonly user?: { readonly sub?: string; readonly email?: string } | undefined;
  readonly app?: string | undefined;
  readonly code?: string | undefined;
  readonly reason?: string | undefined;
  readonly requestId?: string | undefined;
}

export function eventsTable(events: readonly EventRow[]): string {
  if (events.length === 0) return 'No event matches.\n';
  return table(
    ['TIME', 'TYPE', 'OUTCOME', 'USER', 'APP', 'REASON', 'REQUEST'],
    events.map((event) => [
      event.time,
      event.type,
      event.outcome,
      event.user?.email ?? event.user?.sub ?? '-',
      event.app ?? '-',
      [event.code, event.reason].filter(Boolean).join(' ') || '-',
      event.requestId ?? '-',
    ]),
  );
}

export interface OverviewBody {
  readonly groups: ReadonlyArray<{
    readonly name: string;
    readonly apps: readonly string[];
    readonly connectorsOnline: number;
    readonly connectorsOffline: number;
    readonly tunnels: number;
    readonly streamsInFlight: number;
    /** Absent from a service older than the per-instance figures. */
    readonly instances?: ReadonlyArray<{
      readonly id: string;
      readonly url?: string | undefined;
      readonly tunnels: number | null;
      readonly streamsInFlight: number | null;
      readonly state: string;
      readonly partial: boolean;
    }>;
  }>;
  readonly expiringSoon: {
    readonly withinDays: number;
    readonly certificates: ReadonlyArray<{ readonly id: string; readonly group: string; readonly notAfter: string }>;
  };
  readonly readiness: { readonly status: string; readonly checks: Record<string, unknown> };
}

export function overviewText(body: OverviewBody): string {
  const groups = table(
    ['GROUP', 'APPS', 'ONLINE', 'OFFLINE', 'TUNNELS HERE', 'STREAMS IN FLIGHT'],
    body.groups.map((group) => [
      group.name,
      group.apps.join(',') || '-',
      String(group.connectorsOnline),
      String(group.connectorsOffline),
      String(group.tunnels),
      String(group.streamsInFlight),
    ]),
  );
  const perInstance = body.groups.flatMap((group) =>
    (group.instances ?? []).map((instance) => [
      group.name,
      instance.id,
      instance.url ?? '-',
      instance.state,
      instance.tunnels === null ? '?' : `${instance.partial ? '≥' : ''}${instance.tunnels}`,
      instance.streamsInFlight === null ? '?' : `${instance.partial ? '≥' : ''}${instance.streamsInFlight}`,
    ]),
  );
  const instances = perInstance.length === 0 ? '' : `\n${table(['GROUP', 'INSTANCE', 'URL', 'STATE', 'TUNNELS', 'STREAMS IN FLIGHT'], perInstance)}`;
  const expiring = body.expiringSoon.certificates;
  const certificates =
    expiring.length === 0
      ? `No connector certificate expires within ${body.expiringSoon.withinDays} days.`
      : [`Certificates expiring within ${body.expiringSoon.withinDays} days:`, ...expiring.map((c) => `  ${c.id} (${c.group}): ${c.notAfter}`)].join('\n');
  const checks = Object.entries(body.readiness.checks).flatMap(([name, check]) =>
    name === 'connectors'
      ? Object.entries(check as Record<string, { ok: boolean; detail: string }>).map(([group, each]) => [`connectors ${group}`, each] as const)
      : [[name, check as { ok: boolean; detail: string }] as const],
  );
  const readiness = [`Readiness: ${body.readiness.status}`, ...checks.map(([name, check]) => `  ${check.ok ? 'ok  ' : 'FAIL'} ${name}: ${check.detail}`)].join(
    '\n',
  );
  return `${groups}${instances}\n${certificates}\n\n${readiness}\n`;
}

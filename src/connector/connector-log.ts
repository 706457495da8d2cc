/**
 * The one listener that turns the connector's events into what operators
 * read: JSON log lines (pino) and short progress lines (stderr of
 * `gatehouse-connector run`). Every line the running connector writes about
 * its own life comes from here; what the links log about their connections
 * stays with the links.
 */
import type { Logger } from '../logging/logger.ts';
import type { ConnectorEventMap, ConnectorEvents, Failure, RenewalTrigger } from './connector-events.ts';

const TRIGGERS: Readonly<Record<RenewalTrigger, string>> = {
  service_event: 'the service asked for it',
  config_due: 'the service says the certificate is due',
};

function listed(items: readonly string[], total: number): string {
  return `${items.slice(0, 5).join(', ')}${total > 5 ? ', …' : ''}`;
}

function appsSummary(apps: readonly string[]): string {
  if (apps.length === 0) return 'no apps';
  return `${apps.length} app${apps.length === 1 ? '' : 's'} (${listed(apps, apps.length)})`;
}

function describeAllowList(allowList: readonly string[] | undefined): string {
  if (!allowList) return 'no allow-list: this connector dials whatever internal URL the service configures (set one with --allow)';
  const shown = allowList.slice(0, 5).join(', ');
  return `allow-list: ${shown}${allowList.length > 5 ? `, … (${allowList.length} entries)` : ''}`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function logged(failure: Failure): { code: string; reason: string; message: string } {
  return { code: failure.code, reason: failure.reason, message: failure.message };
}

type Listeners = { readonly [K in keyof ConnectorEventMap]: (...args: ConnectorEventMap[K]) => void };

function listen<K extends keyof ConnectorEventMap>(events: ConnectorEvents, name: K, listener: Listeners[K]): () => void {
  // The map guarantees the listener's type; EventEmitter's generic signature cannot follow K.
  events.on(name, listener as never);
  return () => events.off(name, listener as never);
}

/** Writes the log and progress lines of `events`; returns the remover. */
export function writeConnectorLog(events: ConnectorEvents, log: Logger, progress: (line: string) => void): () => void {
  let connectorId: string | undefined;
  const listeners: Listeners = {
    starting: ({ connectorId: id, group, serviceUrl, stateDir, allowList }) => {
      connectorId = id;
      log.info({ connectorId: id, group, serviceUrl, stateDir, allowList: allowList ?? null }, 'connector starting');
      progress(`connector ${id} (group ${group}) connecting to ${serviceUrl}`);
      progress(describeAllowList(allowList));
    },
    groupMoved: ({ from, to }) => {
      log.info({ from, to }, 'moved to another connector group');
    },
    configApplied: ({ version, group, apps, outsideAllowList }) => {
      log.info({ version, group, apps }, 'configuration applied');
      progress(`configuration version ${version} applied: ${appsSummary(apps)} for group ${group}`);
      for (const { appId, target } of outsideAllowList) {
        log.warn({ app: appId, target }, "the configuration names an app outside the connector's allow-list; its streams will be refused");
        progress(`app ${appId}: its internal address is outside the allow-list; requests to it will be refused`);
      }
    },
    configIgnored: ({ version, current }) => {
      log.debug({ version, current }, 'configuration not newer; ignored');
    },
    configRefused: ({ error, keptVersion }) => {
      log.error({ code: error.code, reason: error.reason, version: keptVersion }, error.message);
      progress(`configuration refused, keeping version ${keptVersion}: ${error.message}`);
    },
    configPullFailed: ({ failure }) => {
      log.warn(logged(failure), 'scheduled configuration pull failed');
    },
    renewalDue: ({ trigger }) => {
      log.info({ why: TRIGGERS[trigger] }, 'certificate renewal due');
      progress(`certificate renewal due (${TRIGGERS[trigger]}); renewing`);
    },
    renewalNotDue: ({ dueAt }) => {
      log.info({ dueAt: dueAt ?? null }, 'renewal not due yet');
    },
    renewalFailed: ({ failure, delayMs, attempt }) => {
      log.warn({ ...logged(failure), delayMs, attempt }, 'renewal failed; will retry');
      progress(`certificate renewal failed (${failure.message}); retrying in ${seconds(delayMs)}`);
    },
    certificateRenewed: ({ notAfter }) => {
      progress(`certificate renewed; valid until ${notAfter}`);
    },
    linkUp: ({ link, reconnected }) => {
      progress(reconnected ? `${link} link connected again` : `${link} link connected`);
    },
    linkRestarting: ({ link }) => {
      log.child({ link }).info('reconnecting with the new certificate');
    },
    linkGoingAway: ({ link, delayMs }) => {
      log.child({ link }).info({ delayMs }, 'the service is going away: streams in flight finish, dialling again');
      progress(`${link} link: the service is going away; dialling again in ${seconds(delayMs)}`);
    },
    linkDown: ({ link, failure, delayMs, attempt }) => {
      const linkLog = log.child({ link });
      if (failure.unexpected !== undefined) linkLog.error({ err: failure.unexpected }, 'unexpected failure');
      linkLog.warn({ code: failure.code, reason: failure.reason, delayMs, attempt }, `link down: ${failure.message}`);
      progress(`${link} link down (${failure.message}); reconnecting in ${seconds(delayMs)}`);
    },
    stopped: ({ reason }) => {
      if (reason.kind === 'requested') log.info({ connectorId }, 'connector stopped');
      else log.error({ code: reason.error.code, reason: reason.error.reason }, reason.error.message);
    },
  };
  const removers = (Object.keys(listeners) as Array<keyof ConnectorEventMap>).map((name) => listen(events, name, listeners[name]));
  return () => {
    for (const remove of removers) remove();
  };
}

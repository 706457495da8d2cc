/**
 * The control channel: pull the configuration, then hold the service's
 * events stream open and act on what it says (docs/connector-protocol.md,
 * "GET /.gatehouse/connector/events"). Silence longer than a few heartbeat
 * intervals means the connection is dead even if TCP has not noticed.
 */
import { ConnectorError, isConnectorError } from '../errors/connector-error.ts';
import { DEFAULT_HEARTBEAT_SECONDS, EVENTS_CONNECT_TIMEOUT_MS, HEARTBEAT_MISSES_BEFORE_DEAD, MAX_EVENT_LINE_BYTES } from '../limits.ts';
import type { ConnectorLink, LinkContext } from './link.ts';
import { EVENTS_PATH } from '../protocol/connector-api.ts';
import { instancesEventSchema } from '../protocol/config-document.ts';
import { parseTunnelsEvent, TUNNELS_EVENT, type TunnelsEvent } from '../protocol/tunnels-event.ts';
import { connectorRevoked } from '../errors/connector-refusal.ts';
import { SseLineTooLongError, SseParser, type SseItem } from './sse.ts';

export interface ControlLinkHandlers {
  /** Pulls the configuration and applies it; rejects with a ConnectorError. */
  pullConfig(signal: AbortSignal): Promise<void>;
  /** The service says the certificate is due. Must not wait for the renewal: renewing restarts this link. */
  renewalRequested(): void;
  /** The service asks for more (or, demand passed, fewer) tunnels to one instance. */
  tunnelsWanted?(event: TunnelsEvent): void;
}

function configVersionOf(data: string): number | undefined {
  try {
    const version = (JSON.parse(data) as { version?: unknown } | null)?.version;
    return typeof version === 'number' && Number.isInteger(version) ? version : undefined;
  } catch {
    return undefined;
  }
}

function instanceIdsOf(data: string): string[] | undefined {
  try {
    const parsed = instancesEventSchema.safeParse(JSON.parse(data));
    return parsed.success ? parsed.data.ids : undefined;
  } catch {
    return undefined;
  }
}

function sameIds(a: readonly string[], b: readonly string[]): boolean {
  const set = new Set(a);
  return set.size === new Set(b).size && b.every((id) => set.has(id));
}

async function handleItem(item: SseItem, context: LinkContext, handlers: ControlLinkHandlers): Promise<void> {
  if (item.kind === 'comment') return;
  const { event, data } = item.event;
  switch (event) {
    case 'config': {
      const version = configVersionOf(data);
      if (version !== undefined && version <= context.config.version) {
        context.log.debug({ version, current: context.config.version }, 'config event: already applied');
        return;
      }
      context.log.info({ version: version ?? null }, 'config event: pulling the configuration');
      await handlers.pullConfig(context.signal);
      return;
    }
    case 'instances': {
      // The gateway instances changed (one started or stopped), or a fresh stream names them: same version, maybe a new list of where to keep tunnels.
      const ids = instanceIdsOf(data);
      const known = context.config.current?.instances?.map(({ id }) => id);
      if (ids !== undefined && known !== undefined && sameIds(ids, known)) {
        context.log.debug({ instances: ids }, 'instances event: the list is the one applied');
        return;
      }
      context.log.info({ instances: ids ?? null }, 'instances event: pulling the configuration');
      await handlers.pullConfig(context.signal);
      return;
    }
    case 'renew':
      context.log.info('renew event: the certificate is due for renewal');
      handlers.renewalRequested();
      return;
    case TUNNELS_EVENT: {
      const wanted = parseTunnelsEvent(data);
      if (wanted) handlers.tunnelsWanted?.(wanted);
      else context.log.debug('tunnels event not understood: ignored');
      return;
    }
    case 'revoked':
      throw connectorRevoked({ serviceUrl: context.client.origin });
    default:
      // Events from a newer service are ignored, not fatal.
      context.log.debug({ event }, 'unknown event ignored');
  }
}

async function runControl(context: LinkContext, handlers: ControlLinkHandlers): Promise<void> {
  const { signal, log } = context;
  await handlers.pullConfig(signal);
  const res = await context.client.openStream({ path: EVENTS_PATH, signal, timeoutMs: EVENTS_CONNECT_TIMEOUT_MS });
  context.established();
  log.info('events stream open');

  const silenceMs = (): number => (context.config.current?.heartbeatIntervalSeconds ?? DEFAULT_HEARTBEAT_SECONDS) * 1000 * HEARTBEAT_MISSES_BEFORE_DEAD;
  let watchdog: NodeJS.Timeout | undefined;
  const disarm = (): void => clearTimeout(watchdog);
  const arm = (): void => {
    disarm();
    const ms = silenceMs();
    watchdog = setTimeout(() => {
      res.destroy(
        new ConnectorError('ERR_SERVICE_TIMEOUT', `No heartbeat from the service for ${Math.round(ms / 1000)} s: the connection is dead.`, {
          reason: 'no_heartbeat',
        }),
      );
    }, ms);
  };
  const onAbort = (): void => {
    res.destroy(new ConnectorError('ERR_ABORTED', 'Stopped.', { retryable: false, reason: 'aborted' }));
  };
  signal.addEventListener('abort', onAbort, { once: true });
  if (signal.aborted) onAbort();

  const parser = new SseParser(MAX_EVENT_LINE_BYTES);
  res.setEncoding('utf8');
  try {
    arm();
    for await (const chunk of res as AsyncIterable<string>) {
      // Acting on an event can take a call to the service; that is not silence.
      disarm();
      for (const item of parser.push(chunk)) await handleItem(item, context, handlers);
      arm();
    }
  } catch (error) {
    if (isConnectorError(error)) throw error;
    if (error instanceof SseLineTooLongError) {
      throw new ConnectorError('ERR_SERVICE_BAD_RESPONSE', `The events stream broke the protocol (${error.message}).`, {
        reason: 'line_too_long',
        retryable: true,
      });
    }
    const code = (error as NodeJS.ErrnoException).code ?? 'stream_error';
    throw new ConnectorError('ERR_SERVICE_UNREACHABLE', `The events stream from ${context.client.origin} broke (${code}).`, {
      reason: code,
      cause: error,
    });
  } finally {
    disarm();
    signal.removeEventListener('abort', onAbort);
    res.destroy();
  }
  log.info('events stream closed by the service');
}

export function createControlLink(handlers: ControlLinkHandlers): ConnectorLink {
  return { name: 'control', run: (context) => runControl(context, handlers) };
}

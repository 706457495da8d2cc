/**
 * What a running connector tells the world, as typed events: the log and
 * progress lines an operator reads are written from them (connector-log.ts),
 * and a program embedding the connector (the testing helper, a supervisor of
 * its own) listens to the same events instead of parsing those lines.
 */
import { EventEmitter } from 'node:events';
import type { ConnectorErrorCode } from '../errors/connector-codes.ts';
import { isConnectorError, type ConnectorError } from '../errors/connector-error.ts';

/** Why a link went down or a call failed, in the terms the log uses. */
export interface Failure {
  readonly code: string;
  readonly reason: string;
  readonly message: string;
  /** The thrown value when it was not a ConnectorError: a bug, logged with its stack. */
  readonly unexpected?: unknown;
}

/**
 * Why the connector stopped:
 * - `requested`: the caller's signal (SIGTERM, the testing helper's stop());
 * - `refused`: the service will not take this connector any more (certificate refused, connector revoked);
 * - `failed`: another failure that retrying cannot fix.
 */
export type StopReason =
  { readonly kind: 'requested' } | { readonly kind: 'refused'; readonly error: ConnectorError } | { readonly kind: 'failed'; readonly error: ConnectorError };

/** Who asked for a renewal. */
export type RenewalTrigger = 'service_event' | 'config_due';

export interface AppOutsideAllowList {
  readonly appId: string;
  /** host:port of its internal URL. */
  readonly target: string;
}

/** Each event a running connector emits on `RunConnectorOptions.events`, with what it carries. */
export type ConnectorEventMap = {
  starting: [
    {
      readonly connectorId: string;
      readonly group: string;
      readonly serviceUrl: string;
      readonly stateDir: string;
      /** The local allow-list's entries as given; undefined: no allow-list. */
      readonly allowList: readonly string[] | undefined;
    },
  ];
  /** A newer configuration is in use: streams for its apps are served from now on. */
  configApplied: [
    {
      readonly version: number;
      readonly group: string;
      readonly apps: readonly string[];
      /** Apps whose address the local allow-list refuses: their streams will be refused. */
      readonly outsideAllowList: readonly AppOutsideAllowList[];
    },
  ];
  /** A configuration at or below the applied version: an answer that arrived late. */
  configIgnored: [{ readonly version: number; readonly current: number }];
  /** The service sent a configuration that failed validation; `keptVersion` stays in use. */
  configRefused: [{ readonly error: ConnectorError; readonly keptVersion: number }];
  configPullFailed: [{ readonly failure: Failure }];
  /** An administrator moved the connector to another group. */
  groupMoved: [{ readonly from: string; readonly to: string }];
  renewalDue: [{ readonly trigger: RenewalTrigger }];
  renewalNotDue: [{ readonly dueAt: string | undefined }];
  renewalFailed: [{ readonly failure: Failure; readonly delayMs: number; readonly attempt: number }];
  /** The new certificate is on disk and in use; the links reconnect with it. */
  certificateRenewed: [{ readonly notAfter: string }];
  linkUp: [{ readonly link: string; readonly reconnected: boolean }];
  linkDown: [{ readonly link: string; readonly failure: Failure; readonly delayMs: number; readonly attempt: number }];
  /** A link is cut on purpose to reconnect with the renewed certificate. */
  linkRestarting: [{ readonly link: string }];
  /** The service is going away on this link (GOAWAY without an error): its streams finish, a new link is dialled after `delayMs`. */
  linkGoingAway: [{ readonly link: string; readonly delayMs: number }];
  /** Emitted once, last, after every link is closed. */
  stopped: [{ readonly reason: StopReason }];
};

export type ConnectorEventName = keyof ConnectorEventMap;

/** The connector's events. Listeners run synchronously inside the connector: they must not throw. */
export class ConnectorEvents extends EventEmitter<ConnectorEventMap> {}

const REFUSAL_CODES: ReadonlySet<ConnectorErrorCode> = new Set<ConnectorErrorCode>(['ERR_CERT_REFUSED', 'ERR_CONNECTOR_REVOKED']);

/** The stop reason for a failure that retrying cannot fix. */
export function stopReasonFor(error: ConnectorError): StopReason {
  return REFUSAL_CODES.has(error.code) ? { kind: 'refused', error } : { kind: 'failed', error };
}

export function describeFailure(error: unknown): Failure {
  if (isConnectorError(error)) return { code: error.code, reason: error.reason, message: error.message };
  return { code: 'ERR_UNEXPECTED', reason: 'unexpected', message: error instanceof Error ? error.message : String(error), unexpected: error };
}

import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { systemClock, type Clock } from '../clock.ts';
import { caBundleProblem } from '../config/pem-checks.ts';
import { GatehouseConfigError } from '../errors/index.ts';
import { jsonLinesSink } from './audit-log.ts';
import { droppedEvent, type DropReport } from './drop-counter.ts';
import type { AuditSink } from './events.ts';
import { fileSink, type FileSink } from './file-sink.ts';
import { recentEvents, type RecentEvents } from './recent-events.ts';
import type { AuditOutbox } from './ring-queue.ts';
import { auditSettingsSchema, type AuditSettings, type AuditSettingsInput } from './settings.ts';
import type { WebhookFailure, WebhookFetch } from './webhook-options.ts';
import { webhookSink, type WebhookSink } from './webhook-sink.ts';

export interface AuditSinksOptions {
  /** Relative `…File` and `file.path` values are resolved against this folder. Default: the working directory. */
  readonly baseDir?: string;
  readonly stdout?: Writable;
  readonly clock?: Clock;
  readonly fetch?: WebhookFetch;
  /** The state database file the webhook keeps waiting events in (they survive a crash); without it they wait in memory. */
  readonly outboxPath?: string;
  /** Makes the webhook's outbox (e.g. on Redis, for several instances), given its bound; wins over `outboxPath`. */
  readonly outbox?: (capacity: number) => AuditOutbox;
  /** A sink dropped events (e.g. to log it). The other sinks are told already: they get an `audit.dropped` event. */
  readonly onDrop?: (report: DropReport) => void;
  /** The recent-events window the admin query reads (e.g. shared by instances: openRecentEvents). Default: in memory, `audit.recent.capacity` events. */
  readonly recent?: RecentEvents;
  readonly onWebhookError?: (failure: WebhookFailure) => void;
  readonly onFileError?: (error: unknown) => void;
}

export interface AuditSinks {
  /** Every sink, for `new AuditLog(sinks)`; the recent-events store is among them. */
  readonly sinks: readonly AuditSink[];
  /** What the admin query endpoint reads. */
  readonly recent: RecentEvents;
  readonly file?: FileSink;
  readonly webhook?: WebhookSink;
}

interface WebhookMaterial {
  readonly token: string | undefined;
  readonly ca: string | undefined;
  readonly problems: readonly string[];
}

/** The webhook's Authorization value and CA bundle, read from their files when named so, each checked; what is wrong is named by key. */
function webhookMaterial(webhook: NonNullable<AuditSettings['webhook']>, baseDir: string): WebhookMaterial {
  const problems: string[] = [];
  const read = (key: string, path: string): string | undefined => {
    try {
      return readFileSync(resolve(baseDir, path), 'utf8').trim();
    } catch (error) {
      problems.push(`audit.webhook.${key}: cannot read "${path}" (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
      return undefined;
    }
  };
  const { authorization, authorizationFile, ca, caFile } = webhook;
  const token = authorizationFile === undefined ? authorization : read('authorizationFile', authorizationFile);
  // An empty header value would be sent as is, and every batch refused by the receiver.
  if (authorizationFile !== undefined && token === '') problems.push(`audit.webhook.authorizationFile: "${authorizationFile}" is empty`);
  const trust = caFile === undefined ? ca : read('caFile', caFile);
  // Node ignores a CA it cannot parse: every delivery would then fail, and only at the first batch.
  const wrong = trust === undefined ? undefined : caBundleProblem(trust);
  if (wrong !== undefined) problems.push(caFile === undefined ? `audit.webhook.ca: ${wrong}` : `audit.webhook.caFile: "${caFile}" ${wrong}`);
  return { token, ca: trust, problems };
}

function parseSettings(input: AuditSettingsInput | AuditSettings | undefined): AuditSettings {
  const parsed = auditSettingsSchema.safeParse(input);
  if (!parsed.success) {
    throw new GatehouseConfigError(parsed.error.issues.map((issue) => `${['audit', ...issue.path.map(String)].join('.')}: ${issue.message}`));
  }
  return parsed.data;
}

/**
 * What createAuditSinks would refuse, found without opening, creating or
 * sending anything: for `gatehouse check`. The webhook's files are read and
 * checked by the same code; the audit file, which only opening would prove,
 * is looked at (an existing file must be writable, else its folder must
 * exist and be writable).
 */
export function auditSettingsProblems(input: AuditSettingsInput | AuditSettings | undefined, options: { readonly baseDir?: string } = {}): string[] {
  let settings: AuditSettings;
  try {
    settings = parseSettings(input);
  } catch (error) {
    if (error instanceof GatehouseConfigError) return [...error.issues];
    throw error;
  }
  const baseDir = options.baseDir ?? process.cwd();
  const problems = settings.webhook ? [...webhookMaterial(settings.webhook, baseDir).problems] : [];
  if (settings.file) {
    const problem = auditFileProblem(resolve(baseDir, settings.file.path));
    if (problem !== undefined) problems.push(`audit.file.path: "${settings.file.path}" ${problem}`);
  }
  return problems;
}

function auditFileProblem(path: string): string | undefined {
  const writable = (target: string, mode = constants.W_OK): boolean => {
    try {
      accessSync(target, mode);
      return true;
    } catch {
      return false;
    }
  };
  let info;
  try {
    info = statSync(path);
  } catch {
    info = undefined;
  }
  if (info?.isDirectory()) return 'is a directory: name a file in it';
  if (info) return writable(path) ? undefined : 'cannot be opened for writing by this user';
  let folder;
  try {
    folder = statSync(dirname(path));
  } catch {
    return `cannot be created: its folder "${dirname(path)}" does not exist`;
  }
  if (!folder.isDirectory()) return `cannot be created: "${dirname(path)}" is not a folder`;
  return writable(dirname(path), constants.W_OK | constants.X_OK) ? undefined : `cannot be created: its folder "${dirname(path)}" is not writable by this user`;
}

/** Builds the sinks the `audit:` settings describe. Files named by the settings are read (and the audit file opened) now, so a mistake fails at start-up. */
export function createAuditSinks(input: AuditSettingsInput | AuditSettings | undefined, options: AuditSinksOptions = {}): AuditSinks {
  const settings = parseSettings(input);
  const baseDir = options.baseDir ?? process.cwd();
  const material = settings.webhook ? webhookMaterial(settings.webhook, baseDir) : undefined;
  if (material && material.problems.length > 0) throw new GatehouseConfigError(material.problems);

  const recent = options.recent ?? recentEvents(settings.recent.capacity);
  const sinks: AuditSink[] = [];
  const clock = options.clock ?? systemClock;
  // A sink that drops tells the others, so a dead webhook shows up in the file, on stdout and in queries.
  const reportDrops = (from: () => AuditSink | undefined) => (report: DropReport) => {
    const event = droppedEvent(report, clock);
    for (const sink of sinks) {
      if (sink === from()) continue;
      try {
        sink.write(event);
      } catch {
        // Each sink answers for its own failures; one must not stop the report reaching the rest.
      }
    }
    options.onDrop?.(report);
  };
  if (settings.stdout) sinks.push(jsonLinesSink(options.stdout));
  let file: FileSink | undefined;
  if (settings.file) {
    try {
      file = fileSink(resolve(baseDir, settings.file.path), {
        maxBacklogBytes: settings.file.maxBacklogBytes,
        clock,
        onDrop: reportDrops(() => file),
        ...(options.onFileError ? { onError: options.onFileError } : {}),
      });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === undefined) throw error;
      throw new GatehouseConfigError([`audit.file.path: cannot open "${settings.file.path}" (${code})`]);
    }
    sinks.push(file);
  }
  let webhook: WebhookSink | undefined;
  if (settings.webhook) {
    const {
      authorization: _authorization,
      authorizationFile: _authorizationFile,
      ca: _ca,
      caFile: _caFile,
      flushInterval,
      timeout,
      ...rest
    } = settings.webhook;
    const token = material?.token;
    const trust = material?.ca;
    webhook = webhookSink({
      ...rest,
      headers: { ...rest.headers, ...(token === undefined ? {} : { authorization: token }) },
      flushIntervalMs: flushInterval * 1000,
      timeoutMs: timeout * 1000,
      ...(trust === undefined ? {} : { ca: trust }),
      ...(options.fetch ? { fetch: options.fetch } : {}),
      ...(options.outboxPath === undefined ? {} : { outboxPath: options.outboxPath }),
      ...(options.outbox === undefined ? {} : { outbox: options.outbox }),
      clock,
      onDrop: reportDrops(() => webhook),
      ...(options.onWebhookError ? { onError: options.onWebhookError } : {}),
    });
    sinks.push(webhook);
  }
  sinks.push(recent);
  return { sinks, recent, ...(file ? { file } : {}), ...(webhook ? { webhook } : {}) };
}

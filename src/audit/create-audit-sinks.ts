import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { systemClock, type Clock } from '../clock.ts';
import { GatehouseConfigError } from '../errors.ts';
import { jsonLinesSink } from './audit-log.ts';
import { droppedEvent, type DropReport } from './drop-counter.ts';
import type { AuditSink } from './events.ts';
import { fileSink, type FileSink } from './file-sink.ts';
import { recentEvents, type RecentEvents } from './recent-events.ts';
import { auditSettingsSchema, type AuditSettings, type AuditSettingsInput } from './settings.ts';
import type { WebhookFailure, WebhookFetch } from './webhook-options.ts';
import { webhookSink, type WebhookSink } from './webhook-sink.ts';

export interface AuditSinksOptions {
  /** Relative `…File` and `file.path` values are resolved against this folder. Default: the working directory. */
  readonly baseDir?: string;
  readonly stdout?: Writable;
  readonly clock?: Clock;
  readonly fetch?: WebhookFetch;
  /** A sink dropped events (e.g. to log it). The other sinks are told already: they get an `audit.dropped` event. */
  readonly onDrop?: (report: DropReport) => void;
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

/** Builds the sinks the `audit:` settings describe. Files named by the settings are read (and the audit file opened) now, so a mistake fails at start-up. */
export function createAuditSinks(input: AuditSettingsInput | AuditSettings | undefined, options: AuditSinksOptions = {}): AuditSinks {
  const parsed = auditSettingsSchema.safeParse(input);
  if (!parsed.success) {
    throw new GatehouseConfigError(parsed.error.issues.map((issue) => `${['audit', ...issue.path.map(String)].join('.')}: ${issue.message}`));
  }
  const settings = parsed.data;
  const baseDir = options.baseDir ?? process.cwd();
  const read = (key: string, path: string): string => {
    try {
      return readFileSync(resolve(baseDir, path), 'utf8').trim();
    } catch (error) {
      throw new GatehouseConfigError([`audit.webhook.${key}: cannot read "${path}" (${(error as NodeJS.ErrnoException).code ?? 'error'})`]);
    }
  };

  const recent = recentEvents(settings.recent.capacity);
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
    file = fileSink(resolve(baseDir, settings.file.path), {
      maxBacklogBytes: settings.file.maxBacklogBytes,
      clock,
      onDrop: reportDrops(() => file),
      ...(options.onFileError ? { onError: options.onFileError } : {}),
    });
    sinks.push(file);
  }
  let webhook: WebhookSink | undefined;
  if (settings.webhook) {
    const { authorization, authorizationFile, ca, caFile, flushInterval, timeout, ...rest } = settings.webhook;
    const token = authorizationFile === undefined ? authorization : read('authorizationFile', authorizationFile);
    const trust = caFile === undefined ? ca : read('caFile', caFile);
    webhook = webhookSink({
      ...rest,
      headers: { ...rest.headers, ...(token === undefined ? {} : { authorization: token }) },
      flushIntervalMs: flushInterval * 1000,
      timeoutMs: timeout * 1000,
      ...(trust === undefined ? {} : { ca: trust }),
      ...(options.fetch ? { fetch: options.fetch } : {}),
      clock,
      onDrop: reportDrops(() => webhook),
      ...(options.onWebhookError ? { onError: options.onWebhookError } : {}),
    });
    sinks.push(webhook);
  }
  sinks.push(recent);
  return { sinks, recent, ...(file ? { file } : {}), ...(webhook ? { webhook } : {}) };
}

import { isIP } from 'node:net';
import { z } from 'zod';
import type { Clock } from '../clock.ts';
import { GatehouseConfigError } from '../errors/index.ts';
import {
  AUDIT_WEBHOOK_BATCH_SIZE,
  AUDIT_WEBHOOK_FLUSH_INTERVAL_MS,
  AUDIT_WEBHOOK_MAX_BATCH_SIZE,
  AUDIT_WEBHOOK_MAX_FLUSH_INTERVAL_MS,
  AUDIT_WEBHOOK_MAX_QUEUE,
  AUDIT_WEBHOOK_MAX_QUEUE_CEILING,
  AUDIT_WEBHOOK_MAX_TIMEOUT_MS,
  AUDIT_WEBHOOK_RETRY_BASE_MS,
  AUDIT_WEBHOOK_RETRY_CAP_MS,
  AUDIT_WEBHOOK_TIMEOUT_MS,
} from '../limits.ts';
import type { DropReport } from './drop-counter.ts';
import type { AuditOutbox } from './ring-queue.ts';

/** What the sink needs of a response: the status, Retry-After, and a body it can discard. */
export interface WebhookResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly body?: { cancel(): Promise<void> } | null;
}

export interface WebhookRequestInit {
  readonly method: 'POST';
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly signal: AbortSignal;
  readonly redirect: 'manual';
}

/** A fetch: the global one, undici's, or a test's. */
export type WebhookFetch = (url: string, init: WebhookRequestInit) => Promise<WebhookResponse>;

export interface WebhookFailure {
  /** The receiver's status, when it answered. */
  readonly status?: number;
  /** The network error or timeout, when it did not. */
  readonly error?: unknown;
  /** Events in the batch. */
  readonly events: number;
  /** Consecutive failures of this batch so far. */
  readonly attempt: number;
  /** The batch was refused as malformed and dropped (400, 413, 422); otherwise it is retried. */
  readonly permanent: boolean;
  readonly retryInMs?: number;
}

/** Where and how `webhookSink()` POSTs batches of audit events: URL, headers, TLS trust, batch size, queue bound and timeouts. */
export interface WebhookSinkOptions {
  /** https, or http to a loopback address only: audit events name users. */
  readonly url: string;
  /** Sent with every POST, e.g. `{ authorization: 'Splunk …' }`. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly batchSize?: number;
  /** How long a partial batch waits for more events before it is sent. */
  readonly flushIntervalMs?: number;
  /** Events waiting for delivery; when full the oldest is dropped and counted. */
  readonly maxQueue?: number;
  /** One POST, until the response headers. */
  readonly timeoutMs?: number;
  /** Retries wait full jitter in [0, min(retryCapMs, retryBaseMs·2^attempt)]. */
  readonly retryBaseMs?: number;
  readonly retryCapMs?: number;
  /** PEM certificate(s) to trust for an https receiver, instead of the public roots. */
  readonly ca?: string | readonly string[];
  readonly fetch?: WebhookFetch;
  readonly clock?: Clock;
  /** Uniform in [0, 1), for the jitter. */
  readonly random?: () => number;
  /** Told, at most once a minute, how many events were dropped. */
  readonly onDrop?: (report: DropReport) => void;
  /** Told about every failed POST. */
  readonly onError?: (failure: WebhookFailure) => void;
}

/** The webhook sink's options, and where it keeps what waits. */
export interface DurableWebhookSinkOptions extends WebhookSinkOptions {
  /** The state database file waiting events are kept in, so a crash loses none; without it they wait in memory. */
  readonly outboxPath?: string;
  /** Makes the outbox waiting events are kept in (e.g. a RedisOutbox), given the queue bound; wins over `outboxPath`. */
  readonly outbox?: (capacity: number) => AuditOutbox;
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

const webhookUrl = z.string().superRefine((value, ctx) => {
  if (!URL.canParse(value)) {
    ctx.addIssue({ code: 'custom', message: 'must be an absolute URL, e.g. "https://siem.example.com/ingest"' });
    return;
  }
  const url = new URL(value);
  if (url.username || url.password) ctx.addIssue({ code: 'custom', message: 'must not contain credentials; pass them in headers' });
  const loopback = LOOPBACK_NAMES.has(url.hostname) || (isIP(url.hostname) === 4 && url.hostname.startsWith('127.'));
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    ctx.addIssue({ code: 'custom', message: 'must be an https URL (plain http only to a loopback address): audit events name users and addresses' });
  }
});

const ms = (min: number, max: number, fallback: number) => z.number().int().min(min).max(max).default(fallback);

export const webhookOptionsSchema = z
  .strictObject({
    url: webhookUrl,
    headers: z
      .record(
        z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be an HTTP header name'),
        z.string().regex(/^[\t\x20-\x7e\x80-\xff]*$/, 'must be a header value without line breaks'),
      )
      .default({}),
    batchSize: ms(1, AUDIT_WEBHOOK_MAX_BATCH_SIZE, AUDIT_WEBHOOK_BATCH_SIZE),
    flushIntervalMs: ms(1, AUDIT_WEBHOOK_MAX_FLUSH_INTERVAL_MS, AUDIT_WEBHOOK_FLUSH_INTERVAL_MS),
    maxQueue: ms(1, AUDIT_WEBHOOK_MAX_QUEUE_CEILING, AUDIT_WEBHOOK_MAX_QUEUE),
    timeoutMs: ms(1, AUDIT_WEBHOOK_MAX_TIMEOUT_MS, AUDIT_WEBHOOK_TIMEOUT_MS),
    retryBaseMs: ms(1, AUDIT_WEBHOOK_RETRY_CAP_MS, AUDIT_WEBHOOK_RETRY_BASE_MS),
    retryCapMs: ms(1, AUDIT_WEBHOOK_RETRY_CAP_MS, AUDIT_WEBHOOK_RETRY_CAP_MS),
    ca: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  })
  .refine((options) => options.retryCapMs >= options.retryBaseMs, { message: 'must be at least retryBaseMs', path: ['retryCapMs'] });

export type WebhookSettings = z.output<typeof webhookOptionsSchema>;

const FUNCTIONS = ['fetch', 'clock', 'random', 'onDrop', 'onError'] as const;

/** Validates the options once; a mistake throws naming the option, e.g. `webhookSink.batchSize`. */
export function parseWebhookOptions(options: WebhookSinkOptions): WebhookSettings {
  const { fetch: _fetch, clock: _clock, random: _random, onDrop: _onDrop, onError: _onError, ...data } = options;
  const issues: string[] = [];
  for (const name of FUNCTIONS) {
    if (options[name] !== undefined && typeof options[name] !== 'function') issues.push(`webhookSink.${name}: must be a function`);
  }
  const result = webhookOptionsSchema.safeParse(data);
  if (!result.success) issues.push(...result.error.issues.map((issue) => `${['webhookSink', ...issue.path.map(String)].join('.')}: ${issue.message}`));
  if (issues.length > 0 || !result.success) throw new GatehouseConfigError(issues);
  return result.data;
}

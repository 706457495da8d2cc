import { z } from 'zod';
import { durationSeconds } from '../config/duration.ts';
import {
  AUDIT_FILE_MAX_BACKLOG_BYTES,
  AUDIT_RECENT_EVENTS_CAPACITY,
  AUDIT_RECENT_EVENTS_MAX_CAPACITY,
  AUDIT_WEBHOOK_BATCH_SIZE,
  AUDIT_WEBHOOK_FLUSH_INTERVAL_MS,
  AUDIT_WEBHOOK_MAX_BATCH_SIZE,
  AUDIT_WEBHOOK_MAX_FLUSH_INTERVAL_MS,
  AUDIT_WEBHOOK_MAX_QUEUE,
  AUDIT_WEBHOOK_MAX_QUEUE_CEILING,
  AUDIT_WEBHOOK_MAX_TIMEOUT_MS,
  AUDIT_WEBHOOK_TIMEOUT_MS,
} from '../limits.ts';
import { webhookOptionsSchema } from './webhook-options.ts';

/**
 * The `audit:` section of the gateway configuration: where events go
 * (docs/audit-events.md, "Sinks"). Durations are written like the rest of
 * the configuration ("1s", "10s" or whole seconds). Every key has a default:
 * no `audit:` means JSON lines on stdout plus the in-memory window the admin
 * query endpoint reads.
 */

export const auditSettingsSchema = z
  .strictObject({
    /** JSON lines on stdout, each marked `"audit": true`, for a log shipper. */
    stdout: z.boolean().default(true),
    /** JSON lines appended to a file (created 0600); reopen it after rotation with SIGHUP. */
    file: z
      .strictObject({
        path: z.string().min(1, 'must name a file, e.g. "/var/log/gatehouse/audit.jsonl"'),
        maxBacklogBytes: z.number().int().min(1).max(AUDIT_FILE_MAX_BACKLOG_BYTES).default(AUDIT_FILE_MAX_BACKLOG_BYTES),
      })
      .optional(),
    /** Batches POSTed as JSON arrays to a SIEM collector. */
    webhook: z
      .strictObject({
        url: webhookOptionsSchema.shape.url,
        /** Extra headers, not secret ones (those go in `authorization` / `authorizationFile`). */
        headers: webhookOptionsSchema.shape.headers,
        /** The Authorization header's value, e.g. "Splunk 5f…" or "Bearer …". */
        authorization: z.string().min(1).optional(),
        authorizationFile: z.string().min(1).optional(),
        /** PEM bundle to trust for an https receiver instead of the public roots. */
        ca: z.string().min(1).optional(),
        caFile: z.string().min(1).optional(),
        batchSize: z.number().int().min(1).max(AUDIT_WEBHOOK_MAX_BATCH_SIZE).default(AUDIT_WEBHOOK_BATCH_SIZE),
        flushInterval: durationSeconds('1s', AUDIT_WEBHOOK_MAX_FLUSH_INTERVAL_MS / 1000).default(AUDIT_WEBHOOK_FLUSH_INTERVAL_MS / 1000),
        maxQueue: z.number().int().min(1).max(AUDIT_WEBHOOK_MAX_QUEUE_CEILING).default(AUDIT_WEBHOOK_MAX_QUEUE),
        timeout: durationSeconds('10s', AUDIT_WEBHOOK_MAX_TIMEOUT_MS / 1000).default(AUDIT_WEBHOOK_TIMEOUT_MS / 1000),
      })
      .refine((webhook) => webhook.authorization === undefined || webhook.authorizationFile === undefined, {
        message: 'give authorization or authorizationFile, not both',
        path: ['authorizationFile'],
      })
      .refine((webhook) => webhook.ca === undefined || webhook.caFile === undefined, { message: 'give ca or caFile, not both', path: ['caFile'] })
      .optional(),
    /** The in-memory window the admin query endpoint reads. */
    recent: z
      .strictObject({
        capacity: z.number().int().min(1).max(AUDIT_RECENT_EVENTS_MAX_CAPACITY).default(AUDIT_RECENT_EVENTS_CAPACITY),
      })
      .prefault({}),
  })
  .prefault({});

export type AuditSettingsInput = z.input<typeof auditSettingsSchema>;
export type AuditSettings = z.output<typeof auditSettingsSchema>;

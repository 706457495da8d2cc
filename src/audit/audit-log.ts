import { randomUUID } from 'node:crypto';
import type { Writable } from 'node:stream';
import { systemClock, type Clock } from '../clock.ts';
import { AUDIT_CLOSE_DEADLINE_MS, MAX_AUDIT_USER_AGENT } from '../limits.ts';
import type { AuditEvent, AuditEventInput, AuditSink } from './events.ts';

/** Fans every event out to its sinks. A failing sink never breaks a request. */
export class AuditLog {
  readonly #sinks: readonly AuditSink[];
  readonly #clock: Clock;
  readonly #onSinkError: (error: unknown) => void;

  constructor(sinks: readonly AuditSink[], options: { clock?: Clock; onSinkError?: (error: unknown) => void } = {}) {
    this.#sinks = sinks;
    this.#clock = options.clock ?? systemClock;
    this.#onSinkError = options.onSinkError ?? (() => {});
  }

  emit(input: AuditEventInput): AuditEvent {
    const event: AuditEvent = Object.freeze({
      id: randomUUID(),
      time: new Date(this.#clock()).toISOString(),
      ...input,
      ...(input.userAgent !== undefined ? { userAgent: input.userAgent.slice(0, MAX_AUDIT_USER_AGENT) } : {}),
    });
    for (const sink of this.#sinks) {
      try {
        sink.write(event);
      } catch (error) {
        this.#onSinkError(error);
      }
    }
    return event;
  }

  /** Waits for every sink that buffers to deliver what it holds, all within one deadline; true when all did. */
  async flush(timeoutMs = AUDIT_CLOSE_DEADLINE_MS): Promise<boolean> {
    const results = await Promise.allSettled(this.#sinks.map(async (sink) => (await sink.flush?.(timeoutMs)) ?? true));
    return results.every((result) => result.status === 'fulfilled' && result.value);
  }

  /** Closes every sink (each delivers what it can within the deadline, then counts the rest as dropped). */
  async close(timeoutMs = AUDIT_CLOSE_DEADLINE_MS): Promise<void> {
    const results = await Promise.allSettled(this.#sinks.map(async (sink) => sink.close?.(timeoutMs)));
    for (const result of results) if (result.status === 'rejected') this.#onSinkError(result.reason);
  }
}

/** One JSON object per line, e.g. to stdout for a log shipper. */
export function jsonLinesSink(stream: Writable = process.stdout): AuditSink {
  return {
    write(event) {
      stream.write(`${JSON.stringify({ audit: true, ...event })}\n`);
    },
  };
}

/** Keeps the most recent events in memory; for tests and diagnostics. */
export interface MemorySink extends AuditSink {
  readonly events: readonly AuditEvent[];
  clear(): void;
  ofType(type: AuditEvent['type']): AuditEvent[];
}

export function memorySink(capacity = 10_000): MemorySink {
  const events: AuditEvent[] = [];
  return {
    events,
    write(event) {
      events.push(event);
      if (events.length > capacity) events.splice(0, events.length - capacity);
    },
    clear() {
      events.length = 0;
    },
    ofType(type) {
      return events.filter((event) => event.type === type);
    },
  };
}

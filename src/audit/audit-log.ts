import { randomUUID } from 'node:crypto';
import type { Writable } from 'node:stream';
import { systemClock, type Clock } from '../clock.ts';
import { AUDIT_CLOSE_DEADLINE_MS, AUDIT_REPEAT_WINDOW_MS, MAX_AUDIT_USER_AGENT } from '../limits.ts';
import { AuditFloodGuard, type FloodGuardOptions } from './flood-guard.ts';
import type { AuditEvent, AuditEventInput, AuditSink } from './events.ts';

export interface AuditLogOptions {
  readonly clock?: Clock;
  readonly onSinkError?: (error: unknown) => void;
  /** How repeats of anonymous failures are aggregated; `false` writes every one. Default: the AUDIT_REPEAT_* bounds. */
  readonly floodGuard?: FloodGuardOptions | false;
}

/**
 * Fans every event out to its sinks. A failing sink never breaks a request.
 * Repeats of an anonymous failure beyond a bound are counted, not written
 * (see AuditFloodGuard), so a flood cannot push real events out.
 */
export class AuditLog {
  readonly #sinks: readonly AuditSink[];
  readonly #clock: Clock;
  readonly #onSinkError: (error: unknown) => void;
  readonly #guard: AuditFloodGuard | undefined;
  readonly #sweepMs: number;
  #sweeper: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(sinks: readonly AuditSink[], options: AuditLogOptions = {}) {
    this.#sinks = sinks;
    this.#clock = options.clock ?? systemClock;
    this.#onSinkError = options.onSinkError ?? (() => {});
    this.#guard = options.floodGuard === false ? undefined : new AuditFloodGuard(options.floodGuard ?? {});
    this.#sweepMs = (options.floodGuard === false ? undefined : options.floodGuard?.windowMs) ?? AUDIT_REPEAT_WINDOW_MS;
  }

  emit(input: AuditEventInput): AuditEvent {
    // Once closed, nothing is counted: no summary would ever be written for it.
    const verdict = this.#closed ? undefined : this.#guard?.admit(input, this.#clock());
    if (verdict) {
      for (const summary of verdict.summaries) this.#write(summary);
      if (!verdict.pass) {
        // Counted, not written; the window's summary says so. Closed windows are summarised even if no repeat comes.
        this.#sweeper ??= setInterval(() => this.#sweep(), this.#sweepMs).unref();
        return this.#event(input);
      }
    }
    return this.#write(input);
  }

  /** Writes the summaries of closed windows; stops the timer when nothing is being counted. */
  #sweep(): void {
    if (!this.#guard) return;
    for (const summary of this.#guard.sweep(this.#clock())) this.#write(summary);
    if (this.#guard.size === 0 && this.#sweeper) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }

  #event(input: AuditEventInput): AuditEvent {
    return Object.freeze({
      id: randomUUID(),
      time: new Date(this.#clock()).toISOString(),
      ...input,
      ...(input.userAgent !== undefined ? { userAgent: input.userAgent.slice(0, MAX_AUDIT_USER_AGENT) } : {}),
    });
  }

  #write(input: AuditEventInput): AuditEvent {
    const event = this.#event(input);
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
    this.#closed = true;
    if (this.#sweeper) clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    // What was counted but not yet summarised is not lost at shutdown.
    for (const summary of this.#guard?.drain() ?? []) this.#write(summary);
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

/** An audit sink that keeps the last `capacity` events in memory, for tests. */
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

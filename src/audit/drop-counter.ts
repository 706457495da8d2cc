import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { AUDIT_DROP_REPORT_INTERVAL_MS } from '../limits.ts';
import type { AuditEvent } from './events.ts';

/** Why a sink gave up on an event. */
export type DropReason =
  /** The webhook queue was full: the oldest waiting event made room for the newest. */
  | 'queue_full'
  /** The file sink's in-memory backlog was full: the disk is not keeping up. */
  | 'backlog_full'
  /** The receiver refused the batch as malformed (HTTP 400, 413 or 422); retrying could not help. */
  | 'rejected'
  /** The destination failed (a write error) and has not been reopened. */
  | 'write_error'
  /** The event could not be written as JSON (a bug in whoever emitted it). */
  | 'unserializable'
  /** Written after close(), or still undelivered when close()'s deadline passed. */
  | 'closed';

const DROP_REASONS: readonly DropReason[] = ['queue_full', 'backlog_full', 'rejected', 'write_error', 'unserializable', 'closed'];

export interface DropReport {
  readonly sink: string;
  /** Dropped since the previous report. */
  readonly dropped: number;
  readonly byReason: Readonly<Partial<Record<DropReason, number>>>;
  /** Dropped since the sink was created. */
  readonly total: number;
  /** The `time` of the oldest and the newest event lost, when the lost events were known. */
  readonly oldestDropped?: string;
  readonly newestDropped?: string;
}

/** A drop report as an `audit.dropped` event: in band into the sink's own destination, or (from `onDrop`) into the others. */
export function droppedEvent(report: DropReport, clock: Clock): AuditEvent {
  const reasons = Object.entries(report.byReason).sort((a, b) => b[1] - a[1]);
  return Object.freeze({
    id: randomUUID(),
    time: new Date(clock()).toISOString(),
    type: 'audit.dropped',
    outcome: 'failure',
    reason: reasons[0]?.[0] ?? 'unknown',
    details: Object.freeze({
      sink: report.sink,
      dropped: report.dropped,
      ...Object.fromEntries(reasons),
      oldestDropped: report.oldestDropped ?? null,
      newestDropped: report.newestDropped ?? null,
      totalDropped: report.total,
    }),
  });
}

interface Tally {
  count: number;
  byReason: Partial<Record<DropReason, number>>;
  oldest?: string;
  newest?: string;
}

const emptyTally = (): Tally => ({ count: 0, byReason: {} });

/**
 * Counts what a sink drops and reports it twice over: in band, as a
 * synthetic `audit.dropped` event the sink writes into its own destination
 * as soon as it can (so the SIEM sees the gap where it is, with the time
 * range of the lost events), and out of band, to an `onDrop` listener at
 * most once per interval (so an operator hears about it while the
 * destination is still failing).
 */
export class DropCounter {
  readonly #sink: string;
  readonly #clock: Clock;
  readonly #onDrop: ((report: DropReport) => void) | undefined;
  readonly #intervalMs: number;
  #total = 0;
  #inBand = emptyTally();
  #outOfBand = emptyTally();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: { sink: string; clock: Clock; onDrop?: ((report: DropReport) => void) | undefined; intervalMs?: number }) {
    this.#sink = options.sink;
    this.#clock = options.clock;
    this.#onDrop = options.onDrop;
    this.#intervalMs = options.intervalMs ?? AUDIT_DROP_REPORT_INTERVAL_MS;
  }

  get total(): number {
    return this.#total;
  }

  /** Whether drops happened that the destination has not been told about yet. */
  get hasInBandReport(): boolean {
    return this.#inBand.count > 0;
  }

  record(reason: DropReason, event?: AuditEvent): void {
    if (event !== undefined && this.#isOwnReport(event)) {
      // Losing our own report must not lose what it reported: its drops go back into the next one.
      this.#restore(event);
      return;
    }
    this.#total += 1;
    tally(this.#inBand, reason, event);
    if (!this.#onDrop || this.#closed) return;
    tally(this.#outOfBand, reason, event);
    // The first drop after a quiet interval is reported at once; later ones wait for the timer.
    if (this.#timer === undefined) {
      // Armed before the listener runs: a listener that writes to another full sink, which reports back here, ends at the armed timer.
      this.#timer = setTimeout(() => this.#tick(), this.#intervalMs);
      this.#timer.unref();
      this.#report();
    }
  }

  /** The synthetic `audit.dropped` event for drops not yet reported in band; resets that tally. */
  takeInBandEvent(): AuditEvent | undefined {
    const tallied = this.#inBand;
    if (tallied.count === 0) return undefined;
    this.#inBand = emptyTally();
    return droppedEvent(this.#reportOf(tallied), this.#clock);
  }

  /** Reports what the listener has not heard yet, and stops the timer. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#report();
  }

  #isOwnReport(event: AuditEvent): boolean {
    return event.type === 'audit.dropped' && event.details?.['sink'] === this.#sink;
  }

  #restore(report: AuditEvent): void {
    const details = report.details ?? {};
    for (const reason of DROP_REASONS) {
      const count = details[reason];
      if (typeof count !== 'number') continue;
      this.#inBand.count += count;
      this.#inBand.byReason[reason] = (this.#inBand.byReason[reason] ?? 0) + count;
    }
    for (const bound of [details['oldestDropped'], details['newestDropped']]) {
      if (typeof bound !== 'string') continue;
      if (this.#inBand.oldest === undefined || bound < this.#inBand.oldest) this.#inBand.oldest = bound;
      if (this.#inBand.newest === undefined || bound > this.#inBand.newest) this.#inBand.newest = bound;
    }
  }

  #tick(): void {
    this.#timer = undefined;
    if (this.#outOfBand.count === 0) return;
    this.#report();
    this.#timer = setTimeout(() => this.#tick(), this.#intervalMs);
    this.#timer.unref();
  }

  #reportOf(tallied: Tally): DropReport {
    return {
      sink: this.#sink,
      dropped: tallied.count,
      byReason: tallied.byReason,
      total: this.#total,
      ...(tallied.oldest === undefined ? {} : { oldestDropped: tallied.oldest }),
      ...(tallied.newest === undefined ? {} : { newestDropped: tallied.newest }),
    };
  }

  #report(): void {
    const tallied = this.#outOfBand;
    if (tallied.count === 0 || !this.#onDrop) return;
    this.#outOfBand = emptyTally();
    try {
      this.#onDrop(this.#reportOf(tallied));
    } catch {
      // A listener's failure must not reach the request that wrote the event.
    }
  }
}

function tally(target: Tally, reason: DropReason, event: AuditEvent | undefined): void {
  target.count += 1;
  target.byReason[reason] = (target.byReason[reason] ?? 0) + 1;
  if (event === undefined) return;
  if (target.oldest === undefined || event.time < target.oldest) target.oldest = event.time;
  if (target.newest === undefined || event.time > target.newest) target.newest = event.time;
}

import { createWriteStream, openSync, type WriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { systemClock, type Clock } from '../clock.ts';
import { AUDIT_CLOSE_DEADLINE_MS, AUDIT_FILE_MAX_BACKLOG_BYTES } from '../limits.ts';
import { DropCounter, type DropReport } from './drop-counter.ts';
import type { AuditEvent, AuditSink } from './events.ts';

/** Options of `fileSink()`. */
export interface FileSinkOptions {
  /** Bytes held in memory while the disk catches up; beyond it events are dropped and counted. */
  readonly maxBacklogBytes?: number;
  readonly clock?: Clock;
  /** Told, at most once a minute, how many events were dropped. */
  readonly onDrop?: (report: DropReport) => void;
  /** Told when the file cannot be written; events are then dropped until reopen() succeeds. */
  readonly onError?: (error: unknown) => void;
}

export interface FileSinkStats {
  /** Events the operating system accepted. */
  readonly written: number;
  readonly dropped: number;
  /** Bytes waiting in memory for the disk. */
  readonly backlogBytes: number;
}

/** An audit sink that appends JSON lines to a file (created 0600); `reopen()` after log rotation. */
export interface FileSink extends AuditSink {
  readonly path: string;
  /** Opens the path again and writes there from now on; for log rotation (rename the file, then reopen, e.g. on SIGHUP). */
  reopen(): Promise<void>;
  flush(timeoutMs?: number): Promise<boolean>;
  close(timeoutMs?: number): Promise<void>;
  stats(): FileSinkStats;
}

const FILE_MODE = 0o600; // audit events name users and addresses: readable by the gateway's user only

/**
 * Audit events as JSON lines appended to a file. `write()` never waits for
 * the disk: lines go to a write stream, and when more than
 * `maxBacklogBytes` are waiting the event is dropped and counted instead of
 * growing memory without bound. The first line written after drops is an
 * `audit.dropped` event saying how many were lost and between which times.
 * The file is opened (created 0600) when the sink is made, so a wrong path
 * fails at start-up, not at the first event.
 */
export function fileSink(path: string, options: FileSinkOptions = {}): FileSink {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError('fileSink: path must name a file, e.g. "/var/log/gatehouse/audit.jsonl"');
  const maxBacklogBytes = options.maxBacklogBytes ?? AUDIT_FILE_MAX_BACKLOG_BYTES;
  if (!(Number.isInteger(maxBacklogBytes) && maxBacklogBytes > 0 && maxBacklogBytes <= AUDIT_FILE_MAX_BACKLOG_BYTES)) {
    throw new TypeError(`fileSink: maxBacklogBytes must be a whole number of bytes in 1..${AUDIT_FILE_MAX_BACKLOG_BYTES}`);
  }
  const drops = new DropCounter({ sink: 'file', clock: options.clock ?? systemClock, onDrop: options.onDrop });
  const onError = options.onError ?? (() => {});

  let stream = attach(createWriteStream(path, { fd: openSync(path, 'a', FILE_MODE) }));
  /** Streams replaced by reopen() that are still writing their last lines. */
  const retiring = new Set<WriteStream>();
  let broken = false;
  let closed: Promise<void> | undefined;
  let written = 0;
  let pending = 0;
  const idleWaiters = new Set<() => void>();

  function attach(target: WriteStream): WriteStream {
    target.on('error', (error) => {
      if (target !== stream) return; // a retiring stream's failure only loses lines already counted below
      broken = true;
      onError(error);
    });
    return target;
  }

  const backlogBytes = (): number => {
    let bytes = stream.writableLength;
    for (const old of retiring) bytes += old.writableLength;
    return bytes;
  };

  const settle = (): void => {
    if (pending > 0) return;
    for (const resolve of idleWaiters) resolve();
    idleWaiters.clear();
  };

  const append = (line: string, event: AuditEvent): void => {
    pending += 1;
    stream.write(line, (error) => {
      pending -= 1;
      if (error) drops.record('write_error', event);
      else written += 1;
      settle();
    });
  };

  const flush = (timeoutMs = AUDIT_CLOSE_DEADLINE_MS): Promise<boolean> => {
    if (pending === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        idleWaiters.delete(done);
        resolve(pending === 0);
      };
      const timer = setTimeout(done, timeoutMs);
      timer.unref();
      idleWaiters.add(done);
    });
  };

  return {
    path,
    write(event) {
      if (closed) return drops.record('closed', event);
      if (broken || stream.destroyed) return drops.record('write_error', event);
      const line = serialize(event);
      if (line === undefined) return drops.record('unserializable', event);
      const report = drops.hasInBandReport ? drops.takeInBandEvent() : undefined;
      const reportLine = report ? (serialize(report) ?? '') : '';
      const room = maxBacklogBytes - backlogBytes();
      if (report && Buffer.byteLength(reportLine) + Buffer.byteLength(line) <= room) {
        append(reportLine, report);
        append(line, event);
        return;
      }
      if (report) drops.record('backlog_full', report); // folds its counts back in for the next attempt
      if (Buffer.byteLength(line) > room) return drops.record('backlog_full', event);
      append(line, event);
    },
    async reopen() {
      if (closed) return;
      const handle = await open(path, 'a', FILE_MODE);
      if (closed) {
        await handle.close();
        return;
      }
      const old = stream;
      stream = attach(createWriteStream(path, { fd: handle }));
      broken = false;
      retiring.add(old);
      await new Promise<void>((resolve) => {
        old.once('close', resolve);
        // end() lets lines already handed to the old stream reach the renamed file first.
        if (old.destroyed) resolve();
        else old.end();
      });
      retiring.delete(old);
    },
    flush,
    close(timeoutMs = AUDIT_CLOSE_DEADLINE_MS) {
      closed ??= (async () => {
        await flush(timeoutMs);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            stream.destroy();
            resolve();
          }, timeoutMs);
          timer.unref();
          stream.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          if (stream.destroyed) resolve();
          else stream.end();
        });
        drops.close();
      })();
      return closed;
    },
    stats() {
      return { written, dropped: drops.total, backlogBytes: backlogBytes() };
    },
  };
}

/** One JSON line, or undefined for an event JSON cannot represent (a cycle, a BigInt). */
function serialize(event: AuditEvent): string | undefined {
  try {
    return `${JSON.stringify(event)}\n`;
  } catch {
    return undefined;
  }
}

import { AUDIT_REPEAT_KEYS, AUDIT_REPEAT_WINDOW_MS, AUDIT_REPEATS_PER_WINDOW } from '../limits.ts';
import type { AuditEventInput, AuditEventType } from './events.ts';

/**
 * Failures anyone can cause without signing in, many times a second: a flood
 * of them must not push real events out of bounded stores (the recent-events
 * store the admin API reads, a webhook queue) nor fill a disk. Only these
 * types, only as failures, and only without a user are ever aggregated.
 * Everything else — sign-ins, logouts, revocations, connector registration
 * and administration, configuration changes, any event naming a user, any
 * success — always passes.
 */
const AGGREGATED: ReadonlySet<AuditEventType> = new Set<AuditEventType>([
  'request.rejected',
  'forward.failed',
  'session.rejected',
  'signin.failed',
  'connector.refused',
]);

export interface FloodGuardOptions {
  /** How long one window lasts. */
  readonly windowMs?: number;
  /** Events of one key passed on per window; the rest are counted. */
  readonly perWindow?: number;
  /** Keys tracked at once; events of further keys share one overflow key per type. */
  readonly maxKeys?: number;
}

interface Window {
  readonly sample: AuditEventInput;
  readonly startedAt: number;
  seen: number;
  suppressed: number;
}

export interface FloodVerdict {
  /** Whether this event goes to the sinks. */
  readonly pass: boolean;
  /** Summaries of windows that closed, to write before this event. */
  readonly summaries: readonly AuditEventInput[];
}

/**
 * Repeats of one anonymous failure (same type, code, reason, app and client
 * address) beyond `perWindow` per window are counted instead of written; when
 * the window closes one `audit.suppressed` event says how many there were.
 * Memory is bounded by `maxKeys`: past it, new keys are counted together per
 * type (`details.overflow: true`, no client address).
 */
export class AuditFloodGuard {
  readonly #windowMs: number;
  readonly #perWindow: number;
  readonly #maxKeys: number;
  readonly #windows = new Map<string, Window>();

  constructor(options: FloodGuardOptions = {}) {
    this.#windowMs = options.windowMs ?? AUDIT_REPEAT_WINDOW_MS;
    this.#perWindow = options.perWindow ?? AUDIT_REPEATS_PER_WINDOW;
    this.#maxKeys = options.maxKeys ?? AUDIT_REPEAT_KEYS;
    for (const [name, value] of [['windowMs', this.#windowMs], ['perWindow', this.#perWindow], ['maxKeys', this.#maxKeys]] as const) {
      if (!Number.isInteger(value) || value < 1) throw new TypeError(`${name} must be a positive integer, got ${String(value)}`);
    }
  }

  /** The keys being counted now, for tests and metrics. */
  get size(): number {
    return this.#windows.size;
  }

  admit(input: AuditEventInput, now: number): FloodVerdict {
    if (!AGGREGATED.has(input.type) || input.outcome !== 'failure' || input.user !== undefined) return { pass: true, summaries: [] };
    let key = `${input.type}\u0000${input.code ?? ''}\u0000${input.reason ?? ''}\u0000${input.app ?? ''}\u0000${input.clientIp ?? ''}`;
    let summaries: AuditEventInput[] = [];
    let window = this.#windows.get(key);
    if (window && now - window.startedAt >= this.#windowMs) {
      summaries = this.#close(key, window);
      window = undefined;
    }
    if (!window) {
      if (this.#windows.size >= this.#maxKeys) summaries = [...summaries, ...this.sweep(now)];
      if (this.#windows.size >= this.#maxKeys) {
        key = `${input.type}\u0000overflow`;
        window = this.#windows.get(key);
        if (!window) {
          // One slot per type is kept back for these, so the table stays bounded at maxKeys plus the types.
          window = { sample: { type: input.type, outcome: 'failure', details: { overflow: true } }, startedAt: now, seen: 0, suppressed: 0 };
          this.#windows.set(key, window);
        }
      } else {
        window = { sample: input, startedAt: now, seen: 0, suppressed: 0 };
        this.#windows.set(key, window);
      }
    }
    window.seen += 1;
    if (window.seen <= this.#perWindow) return { pass: true, summaries };
    window.suppressed += 1;
    return { pass: false, summaries };
  }

  /** Closes every window older than the window length: their summaries, oldest first. */
  sweep(now: number): AuditEventInput[] {
    const out: AuditEventInput[] = [];
    for (const [key, window] of this.#windows) if (now - window.startedAt >= this.#windowMs) out.push(...this.#close(key, window));
    return out;
  }

  /** Closes every window, whatever its age (at shutdown). */
  drain(): AuditEventInput[] {
    const out: AuditEventInput[] = [];
    for (const [key, window] of this.#windows) out.push(...this.#close(key, window));
    return out;
  }

  #close(key: string, window: Window): AuditEventInput[] {
    this.#windows.delete(key);
    if (window.suppressed === 0) return [];
    const { sample } = window;
    return [
      {
        type: 'audit.suppressed',
        outcome: 'info',
        reason: sample.reason,
        code: sample.code,
        app: sample.app,
        clientIp: sample.clientIp,
        details: {
          type: sample.type,
          suppressed: window.suppressed,
          seen: window.seen,
          since: new Date(window.startedAt).toISOString(),
          windowSeconds: this.#windowMs / 1000,
          ...(sample.details?.['overflow'] === true ? { overflow: true } : {}),
        },
      },
    ];
  }
}

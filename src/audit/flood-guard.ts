import { networkOf } from '../ip/network-key.ts';
import { AUDIT_REPEAT_KEYS, AUDIT_REPEAT_REASONS_PER_SOURCE, AUDIT_REPEAT_WINDOW_MS, AUDIT_REPEATS_PER_WINDOW } from '../limits.ts';
import type { AuditEventInput, AuditEventType } from './events.ts';

/**
 * Which events may ever be aggregated, decided per type in this one table;
 * a new event type does not compile until it is classified here.
 *
 * `aggregate`: someone who has not signed in can cause it, many times a
 * second, for the cost of a request. A flood of those must not push real
 * events out of the bounded stores (the recent events the admin API reads, a
 * webhook queue) nor fill a disk. Even these pass when they succeeded or when
 * they name who did it (see `namesSomeone`): only anonymous noise is counted.
 *
 * `never`: the trail an investigation rests on — who signed in and out, which
 * sessions were revoked, every policy decision, every connector registered,
 * renewed, revoked or moved, every configuration change — and the audit
 * system's own reports. These need a verified identity or an operator to
 * happen, so they cannot be flooded cheaply, and losing one costs more than
 * storing many.
 */
const REPEAT_POLICY: Readonly<Record<AuditEventType, 'aggregate' | 'never'>> = {
  'request.rejected': 'aggregate', // malformed requests, unknown hosts: anyone
  'request.rate_limited': 'aggregate', // a flood's own refusals: anyone, many times a second
  'request.timed_out': 'aggregate', // slow headers or bodies: anyone, as many as it opens connections
  'connection.refused': 'aggregate', // connections past the per-address cap: anyone, many times a second
  'forward.failed': 'aggregate', // a pass-through app's dead backend, hit by anyone
  'signin.started': 'aggregate', // anyone can open the sign-in URL
  'signin.failed': 'aggregate', // forged or replayed callbacks
  'signin.loop_detected': 'aggregate', // a client that drops cookies
  'session.rejected': 'aggregate', // forged cookies (a sealed one names its user, so passes)
  'connector.refused': 'aggregate', // the connector listener without a certificate or token
  'admin.events_queried': 'aggregate', // the query endpoint without a token
  'admin.console_signin': 'aggregate', // forged or replayed console callbacks
  'admin.console_refused': 'aggregate', // forged console form posts
  'session.backchannel_logout': 'aggregate', // anyone can post a forged logout token
  'bearer.rejected': 'aggregate', // anyone can send a made-up access token
  'signin.succeeded': 'never',
  'session.expired': 'never',
  'session.revocation_overflow': 'never',
  'session.refreshed': 'never',
  'session.refresh_failed': 'never',
  logout: 'never',
  'gateway.started': 'never',
  'connector.registered': 'never',
  'connector.renewed': 'never',
  'connector.revoked': 'never',
  'connector.moved': 'never',
  'admin.console_action': 'never',
  'connector.connected': 'never',
  'connector.disconnected': 'never',
  'config.changed': 'never',
  'config.reloaded': 'never',
  'idp.unavailable': 'never',
  'policy.decision': 'never',
  'access.denied': 'never',
  'risk.provider_failed': 'never',
  'audit.dropped': 'never',
  'audit.suppressed': 'never',
};

/**
 * An event names who did it when it carries a verified user, or, on the
 * connector plane, the administrator (`details.admin`) or the connector
 * (`details.connectorId`) that was authenticated before it was refused.
 * Those are never held back: an authenticated caller is accountable, and an
 * administrator's refused action is part of the administration trail.
 */
function namesSomeone(input: AuditEventInput): boolean {
  return input.user !== undefined || input.details?.['admin'] !== undefined || input.details?.['connectorId'] !== undefined;
}

/** Whether an event may be counted instead of written when it repeats. */
export function mayAggregate(input: AuditEventInput): boolean {
  return REPEAT_POLICY[input.type] === 'aggregate' && input.outcome !== 'success' && !namesSomeone(input);
}

/**
 * The source an event is counted under: its client address, except that all
 * IPv6 addresses of one /64 count as one source, since one host can pick any
 * address in its /64 and would otherwise start a new key with every request.
 */
function sourceOf(clientIp: string | undefined): { readonly key: string; readonly network?: string } {
  if (clientIp === undefined) return { key: '' };
  const network = networkOf(clientIp, 32, 64);
  return network?.endsWith('/64') ? { key: network, network } : { key: clientIp };
}

export interface FloodGuardOptions {
  /** How long one window lasts. */
  readonly windowMs?: number;
  /** Events of one key passed on per window; the rest are counted. */
  readonly perWindow?: number;
  /** Keys tracked at once; events of further keys share one overflow key per type. */
  readonly maxKeys?: number;
  /** Keys (code, reason, app) one source may open per type; events of further ones share one key per type and source. */
  readonly reasonsPerSource?: number;
}

interface Window {
  readonly sample: AuditEventInput;
  readonly network: string | undefined;
  readonly startedAt: number;
  /** The type and source it counts for, when it holds one reason of theirs (not for the shared keys). */
  readonly source: string | undefined;
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
 * Repeats of one anonymous event (same type, code, reason, app and source)
 * beyond `perWindow` per window are counted instead of written; when the
 * window closes one `audit.suppressed` event says how many there were.
 * Memory is bounded by `maxKeys`: past it, new keys are counted together per
 * type (`details.overflow: true`, no client address).
 *
 * Some reasons carry a word the client chose (a sign-in callback's `error`
 * parameter, for one), so a source could open a new key with every request
 * and never repeat one. Past `reasonsPerSource` keys of one type, a source's
 * further reasons are counted together (`details.otherReasons: true`, no
 * `reason`), which bounds what one source writes per type and window to
 * `(reasonsPerSource + 1) * perWindow` events.
 */
export class AuditFloodGuard {
  readonly #windowMs: number;
  readonly #perWindow: number;
  readonly #maxKeys: number;
  readonly #reasonsPerSource: number;
  /** Open keys per type and source, for `reasonsPerSource`. */
  readonly #keysOfSource = new Map<string, number>();
  /** In the order the windows opened, which is the order of their start times: the oldest come first. */
  readonly #windows = new Map<string, Window>();

  constructor(options: FloodGuardOptions = {}) {
    this.#windowMs = options.windowMs ?? AUDIT_REPEAT_WINDOW_MS;
    this.#perWindow = options.perWindow ?? AUDIT_REPEATS_PER_WINDOW;
    this.#maxKeys = options.maxKeys ?? AUDIT_REPEAT_KEYS;
    this.#reasonsPerSource = options.reasonsPerSource ?? AUDIT_REPEAT_REASONS_PER_SOURCE;
    for (const [name, value] of [
      ['windowMs', this.#windowMs],
      ['perWindow', this.#perWindow],
      ['maxKeys', this.#maxKeys],
      ['reasonsPerSource', this.#reasonsPerSource],
    ] as const) {
      if (!Number.isInteger(value) || value < 1) throw new TypeError(`${name} must be a positive integer, got ${String(value)}`);
    }
  }

  /** The keys being counted now, for tests and metrics. */
  get size(): number {
    return this.#windows.size;
  }

  admit(input: AuditEventInput, now: number): FloodVerdict {
    if (!mayAggregate(input)) return { pass: true, summaries: [] };
    const source = sourceOf(input.clientIp);
    const ofSource = `${input.type}\u0000${source.key}`;
    const summaries: AuditEventInput[] = [];
    let key = `${ofSource}\u0000${input.code ?? ''}\u0000${input.reason ?? ''}\u0000${input.app ?? ''}`;
    let window = this.#open(key, now, summaries);
    if (!window && (this.#keysOfSource.get(ofSource) ?? 0) >= this.#reasonsPerSource) {
      key = `${ofSource}\u0000other`;
      window =
        this.#open(key, now, summaries) ??
        this.#start(
          key,
          { type: input.type, outcome: input.outcome, clientIp: input.clientIp, details: { otherReasons: true } },
          { network: source.network, source: undefined },
          now,
          summaries,
        );
    }
    window ??= this.#start(key, input, { network: source.network, source: ofSource }, now, summaries);
    window.seen += 1;
    if (window.seen <= this.#perWindow) return { pass: true, summaries };
    window.suppressed += 1;
    return { pass: false, summaries };
  }

  /** The key's window if it is still open; one that is over is closed (its summary added to `summaries`). */
  #open(key: string, now: number, summaries: AuditEventInput[]): Window | undefined {
    const window = this.#windows.get(key);
    if (!window || !this.#over(window, now)) return window;
    summaries.push(...this.#close(key, window));
    return undefined;
  }

  /** Opens a window for the key, or, with the table full, joins the type's overflow window. */
  #start(
    key: string,
    sample: AuditEventInput,
    from: { readonly network: string | undefined; readonly source: string | undefined },
    now: number,
    summaries: AuditEventInput[],
  ): Window {
    if (this.#windows.size >= this.#maxKeys) summaries.push(...this.sweep(now));
    if (this.#windows.size >= this.#maxKeys) {
      const overflowKey = `${sample.type}\u0000overflow`;
      const existing = this.#windows.get(overflowKey);
      if (existing) return existing;
      // One slot per type is kept back for these, so the table stays bounded at maxKeys plus the types.
      const overflow: Window = {
        sample: { type: sample.type, outcome: sample.outcome, details: { overflow: true } },
        network: undefined,
        source: undefined,
        startedAt: now,
        seen: 0,
        suppressed: 0,
      };
      this.#windows.set(overflowKey, overflow);
      return overflow;
    }
    const window: Window = { sample, network: from.network, source: from.source, startedAt: now, seen: 0, suppressed: 0 };
    this.#windows.set(key, window);
    if (from.source !== undefined) this.#keysOfSource.set(from.source, (this.#keysOfSource.get(from.source) ?? 0) + 1);
    return window;
  }

  /**
   * Closes every window older than the window length: their summaries, oldest
   * first. It stops at the first window still open, since all after it opened
   * later: a flood of new keys into a full table costs one look, not a scan.
   */
  sweep(now: number): AuditEventInput[] {
    const out: AuditEventInput[] = [];
    for (const [key, window] of this.#windows) {
      if (!this.#over(window, now)) break;
      out.push(...this.#close(key, window));
    }
    return out;
  }

  /** Closes every window, whatever its age (at shutdown). */
  drain(): AuditEventInput[] {
    const out: AuditEventInput[] = [];
    for (const [key, window] of this.#windows) out.push(...this.#close(key, window));
    return out;
  }

  /** A window is over after its length, or at once if the clock went back past its start (it would otherwise stay open for as long as the clock jumped). */
  #over(window: Window, now: number): boolean {
    const age = now - window.startedAt;
    return age >= this.#windowMs || age < 0;
  }

  #close(key: string, window: Window): AuditEventInput[] {
    this.#windows.delete(key);
    if (window.source !== undefined) {
      const left = (this.#keysOfSource.get(window.source) ?? 1) - 1;
      if (left > 0) this.#keysOfSource.set(window.source, left);
      else this.#keysOfSource.delete(window.source);
    }
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
          ...(window.network !== undefined ? { network: window.network } : {}),
          ...(sample.details?.['overflow'] === true ? { overflow: true } : {}),
          ...(sample.details?.['otherReasons'] === true ? { otherReasons: true } : {}),
        },
      },
    ];
  }
}

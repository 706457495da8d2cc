/**
 * Each app's share of its connector group's tunnel streams: how many streams
 * an app holds now (being opened, in use, or idle in its keep-alive pool),
 * and how many it may hold. A group's capacity is what its healthy tunnels
 * can carry; an app of a group that serves several apps may hold its share of
 * it (APP_STREAM_SHARE_PERCENT unless configured), so one app, or the
 * anonymous crowd of a pass-through app, cannot take the streams the others
 * need. An app alone in its group may use all of it unless configured.
 */
import type { StreamShare } from '../config/stream-limits-schema.ts';
import { APP_STREAM_SHARE_PERCENT } from '../limits.ts';

/** What the share rules are made from: the configured apps, their group and their own share if any. */
export interface AppShareRule {
  readonly id: string;
  readonly connectorGroup: string;
  readonly share?: StreamShare | undefined;
}

export interface AppShareStats {
  readonly held: number;
  /** Infinity when nothing limits the app. */
  readonly limit: number;
  /** Requests refused or given up on because the app held its share. */
  readonly refused: number;
}

export class AppShares {
  /** Streams held, by group, then app. */
  readonly #held = new Map<string, Map<string, number>>();
  readonly #refused = new Map<string, Map<string, number>>();
  #rules = new Map<string, StreamShare | undefined>();
  /** The group of each configured app. */
  #groupOf = new Map<string, string>();
  /** Apps configured per group: a share applies by default only where a group is shared. */
  #appsPerGroup = new Map<string, number>();
  #defaultShare: StreamShare = { percent: APP_STREAM_SHARE_PERCENT };

  /** The configured apps (each reload gives the new list); `defaultShare` applies to apps of shared groups without their own. */
  configure(apps: readonly AppShareRule[], defaultShare: StreamShare = { percent: APP_STREAM_SHARE_PERCENT }): void {
    this.#rules = new Map(apps.map((app) => [app.id, app.share]));
    this.#groupOf = new Map(apps.map((app) => [app.id, app.connectorGroup]));
    this.#appsPerGroup = new Map();
    for (const app of apps) this.#appsPerGroup.set(app.connectorGroup, (this.#appsPerGroup.get(app.connectorGroup) ?? 0) + 1);
    this.#defaultShare = defaultShare;
  }

  /** Streams `app` may hold in `group` when the group can carry `capacity`; Infinity without a limit. */
  limit(group: string, app: string, capacity: number): number {
    // No tunnel: nothing to share, and the caller refuses for that reason instead.
    if (capacity <= 0) return Infinity;
    const own = this.#rules.get(app);
    const share = own ?? ((this.#appsPerGroup.get(group) ?? 0) > 1 ? this.#defaultShare : undefined);
    if (!share) return Infinity;
    if ('streams' in share) return share.streams;
    return Math.max(1, Math.floor((capacity * share.percent) / 100));
  }

  held(group: string, app: string): number {
    return this.#held.get(group)?.get(app) ?? 0;
  }

  /** The apps that hold streams in `group`, with how many each. */
  holders(group: string): ReadonlyMap<string, number> {
    return this.#held.get(group) ?? new Map<string, number>();
  }

  /** Counts a stream of `app` from now on; the function returned releases it (once, however often it is called). */
  hold(group: string, app: string): () => boolean {
    add(this.#held, group, app, 1);
    let released = false;
    return () => {
      if (released) return false;
      released = true;
      add(this.#held, group, app, -1);
      return true;
    };
  }

  /** A request of `app` refused, or given up on, because the app held its share. */
  countRefusal(group: string, app: string): void {
    add(this.#refused, group, app, 1);
  }

  /** Each configured app, and any other that holds a stream or was refused, by group: what it holds, may hold and was refused (metrics). */
  stats(capacity: (group: string) => number): Map<string, Map<string, AppShareStats>> {
    const pairs: Array<readonly [string, string]> = [...this.#groupOf].map(([app, group]) => [group, app] as const);
    for (const counts of [this.#held, this.#refused]) for (const [group, apps] of counts) for (const app of apps.keys()) pairs.push([group, app]);
    const out = new Map<string, Map<string, AppShareStats>>();
    for (const [group, app] of pairs) {
      const groupStats = out.get(group) ?? new Map<string, AppShareStats>();
      out.set(group, groupStats);
      if (groupStats.has(app)) continue;
      const refused = this.#refused.get(group)?.get(app) ?? 0;
      groupStats.set(app, { held: this.held(group, app), limit: this.limit(group, app, capacity(group)), refused });
    }
    return out;
  }
}

function add(counts: Map<string, Map<string, number>>, group: string, app: string, delta: number): void {
  let apps = counts.get(group);
  if (!apps) {
    apps = new Map();
    counts.set(group, apps);
  }
  const next = (apps.get(app) ?? 0) + delta;
  // Held counts go back to 0 and leave; refusal counts only grow.
  if (next === 0) apps.delete(app);
  else apps.set(app, next);
  if (apps.size === 0) counts.delete(group);
}

/** Reads a V8 .cpuprofile and says where the time went: self time by function and by package. */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileSummary {
  /** Sampled time that was not idle, ms. */
  readonly busyMs: number;
  readonly idleMs: number;
  /** Self time by function, largest first, share of busy time. */
  readonly functions: Array<{ readonly name: string; readonly where: string; readonly ms: number; readonly share: number }>;
  /** Self time by package or area (node internals by module, node_modules by package, our sources). */
  readonly areas: Array<{ readonly area: string; readonly ms: number; readonly share: number }>;
  /**
   * Self time charged to the nearest Gatehouse frame (src/) on the stack:
   * what each of our steps costs with the libraries it calls synchronously.
   */
  readonly ours: Array<{ readonly frame: string; readonly ms: number; readonly share: number }>;
}

function area(url: string, functionName: string): string {
  if (url === '') {
    if (functionName === '(garbage collector)') return 'GC';
    if (functionName === '(program)') return '(program: native, not attributed)';
    return functionName || '(native)';
  }
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return `npm:${modules[1]}`;
  if (url.startsWith('node:')) {
    const module = /^node:(?:internal\/)?([^/]+(?:\/[^/]+)?)/.exec(url);
    return `node:${module?.[1] ?? url.slice(5)}`;
  }
  const ours = /\/(src|test|bench|dev)\/(.+)$/.exec(url);
  if (ours) return `${ours[1]}/${ours[2]}`;
  return url;
}

function shortWhere(url: string, line: number): string {
  if (url === '') return '';
  const modules = /node_modules\/(.+)$/.exec(url);
  const path = modules ? modules[1]! : (/\/(src|test|bench|dev)\/.+$/.exec(url)?.[0]?.slice(1) ?? url.replace(/^file:\/\//, ''));
  return `${path}:${line + 1}`;
}

export function summarizeProfile(file: string, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) byId.set(node.id, node);
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const nearestOurs = new Map<number, string>();
  const oursOf = (id: number): string => {
    const known = nearestOurs.get(id);
    if (known !== undefined) return known;
    const node = byId.get(id);
    let result = '(no Gatehouse frame on the stack)';
    if (node && /\/src\//.test(node.callFrame.url)) {
      result = `${node.callFrame.functionName || '(anonymous)'} ${shortWhere(node.callFrame.url, node.callFrame.lineNumber)}`;
    } else {
      const up = parent.get(id);
      if (up !== undefined) result = oursOf(up);
    }
    nearestOurs.set(id, result);
    return result;
  };
  const selfMs = new Map<number, number>();
  profile.samples.forEach((id, index) => {
    // A sample's time is the gap to the next one.
    const delta = (profile.timeDeltas[index + 1] ?? 0) / 1000;
    selfMs.set(id, (selfMs.get(id) ?? 0) + delta);
  });
  const functions = new Map<string, { name: string; where: string; ms: number }>();
  const areas = new Map<string, number>();
  const ours = new Map<string, number>();
  let idleMs = 0;
  let busyMs = 0;
  for (const [id, ms] of selfMs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idleMs += ms;
      continue;
    }
    busyMs += ms;
    const name = functionName || '(anonymous)';
    const where = shortWhere(url, lineNumber);
    const key = `${name}@${where}`;
    const entry = functions.get(key) ?? { name, where, ms: 0 };
    entry.ms += ms;
    functions.set(key, entry);
    const a = area(url, functionName);
    areas.set(a, (areas.get(a) ?? 0) + ms);
    const frame = oursOf(id);
    ours.set(frame, (ours.get(frame) ?? 0) + ms);
  }
  const share = (ms: number): number => (busyMs > 0 ? ms / busyMs : 0);
  return {
    busyMs,
    idleMs,
    functions: [...functions.values()]
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top)
      .map((entry) => ({ ...entry, share: share(entry.ms) })),
    areas: [...areas.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, ms]) => ({ area: name, ms, share: share(ms) })),
    ours: [...ours.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([frame, ms]) => ({ frame, ms, share: share(ms) })),
  };
}

export function profileMarkdown(title: string, summary: ProfileSummary): string {
  const pct = (value: number): string => `${(value * 100).toFixed(1)} %`;
  const lines = [
    `**${title}** — ${(summary.busyMs / 1000).toFixed(1)} s busy, ${(summary.idleMs / 1000).toFixed(1)} s idle (self time, share of busy)`,
    '',
    '| area | share | function | where | share | nearest Gatehouse frame | share |',
    '|---|---:|---|---|---:|---|---:|',
  ];
  const rows = Math.max(summary.areas.length, summary.functions.length, summary.ours.length);
  for (let i = 0; i < rows; i++) {
    const a = summary.areas[i];
    const f = summary.functions[i];
    const o = summary.ours[i];
    lines.push(
      `| ${a ? a.area : ''} | ${a ? pct(a.share) : ''} | ${f ? `\`${f.name}\`` : ''} | ${f ? f.where : ''} | ${f ? pct(f.share) : ''} | ${o ? o.frame : ''} | ${o ? pct(o.share) : ''} |`,
    );
  }
  return lines.join('\n');
}

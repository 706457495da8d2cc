/** How the benchmark's report prints figures: '—' for what could not be measured (NaN). */
import { MiB } from './procfs.ts';

export const f0 = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
export const f2 = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : '—');
export const f3 = (n: number): string => (Number.isFinite(n) ? n.toFixed(3) : '—');
export const mib = (bytes: number): string => (Number.isFinite(bytes) ? `${Math.round(bytes / MiB)} MiB` : '—');
/** A share of one core (1 = a whole core) as a percentage. */
export const pct = (share: number): string => `${Math.round(share * 100)}`;

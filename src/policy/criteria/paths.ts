import type { CriterionResult } from './result.ts';

/** A `paths` entry: its text for the audit log and its compared form (see request-path.ts). */
export interface PathPattern {
  readonly label: string;
  readonly pattern: string;
}

/**
 * A path ending in `/` is a prefix and also covers the bare directory
 * (`/admin/` covers `/admin`); any other path is exact and also covers itself
 * with a trailing slash (Express routes `/export/` to `/export`). `forms` is
 * `undefined` for a path that cannot be read safely: every pattern covers it.
 */
export function matchPaths(patterns: readonly PathPattern[], forms: readonly string[] | undefined): CriterionResult {
  if (forms === undefined) return { ok: true, reason: 'path:unreadable' };
  const found = patterns.find(({ pattern }) => forms.some((form) => covers(pattern, form)));
  if (found === undefined) return { ok: false, reason: 'path:not_matched' };
  return { ok: true, reason: `path:${found.label}` };
}

function covers(pattern: string, form: string): boolean {
  if (pattern.endsWith('/')) return form.startsWith(pattern) || form === pattern.slice(0, -1);
  return form === pattern || form === `${pattern}/`;
}

import type { z } from 'zod';

/**
 * zod's issues in the words an operator needs: "is required" rather than
 * "expected string, received undefined", and an unknown key answered with
 * the key of that object it is closest to ("did you mean "clientId"?").
 */

/** Renders a zod issue path as `apps[2].internalUrl`. */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '(root)';
}

/**
 * Passed to `safeParse` as its error map: applies where a schema gives no
 * message of its own (those stay, being more precise).
 */
export const configErrorMap: z.core.$ZodErrorMap = (issue) => {
  if (issue.code !== 'invalid_type') return undefined;
  if (issue.input === undefined) return 'is required';
  return `must be ${article(issue.expected)}, not ${article(typeOf(issue.input))}`;
};

/** One line per problem, each naming its key; unknown keys one each, with the nearest known key of the same object. */
export function formatIssues(error: z.ZodError, schema: z.core.$ZodType): string[] {
  return error.issues.flatMap((issue) => {
    if (issue.code !== 'unrecognized_keys') return [`${formatIssuePath(issue.path)}: ${issue.message}`];
    const known = objectKeysAt(schema, issue.path);
    return issue.keys.map((key) => {
      const nearest = closestKey(key, known);
      const hint = nearest !== undefined ? `did you mean "${nearest}"?` : known.length > 0 ? `known keys here: ${known.join(', ')}` : '';
      return `${formatIssuePath([...issue.path, key])}: unknown key${hint ? `, ${hint}` : ''}`;
    });
  });
}

/** The closest key by edit distance (case ignored, adjacent letters swapped counting one), when close enough to be a typo. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const wanted = key.toLowerCase();
  const limit = wanted.length <= 4 ? 1 : wanted.length <= 8 ? 2 : 3;
  let best: { key: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(wanted, candidate.toLowerCase());
    if (distance <= limit && (best === undefined || distance < best.distance)) best = { key: candidate, distance };
  }
  return best?.key;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and transpositions of neighbours. */
function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = value;
    }
  }
  return rows[a.length]![b.length]!;
}

type Def = Readonly<Record<string, unknown>> & { readonly type: string };

function defOf(schema: unknown): Def | undefined {
  const def = (schema as { _zod?: { def?: Def } } | undefined)?._zod?.def;
  return def && typeof def.type === 'string' ? def : undefined;
}

/** The schemas a value at this point may be checked by, wrappers (optional, default, pipe…) removed. */
function unwrap(schema: unknown, depth = 0): unknown[] {
  const def = defOf(schema);
  if (!def || depth > 20) return [];
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'catch':
    case 'readonly':
    case 'nonoptional':
      return unwrap(def['innerType'], depth + 1);
    case 'pipe':
      return unwrap(def['in'], depth + 1);
    case 'lazy':
      return unwrap((def['getter'] as () => unknown)(), depth + 1);
    case 'union':
      return (def['options'] as unknown[]).flatMap((option) => unwrap(option, depth + 1));
    case 'intersection':
      return [...unwrap(def['left'], depth + 1), ...unwrap(def['right'], depth + 1)];
    default:
      return [schema];
  }
}

/** The keys the schema allows for the object at `path`. */
export function objectKeysAt(schema: z.core.$ZodType, path: readonly PropertyKey[]): string[] {
  let current = unwrap(schema);
  for (const part of path) {
    current = current.flatMap((candidate) => {
      const def = defOf(candidate)!;
      if (def.type === 'object' && typeof part === 'string') {
        const shape = def['shape'] as Record<string, unknown>;
        return Object.hasOwn(shape, part) ? unwrap(shape[part]) : [];
      }
      if (def.type === 'array' && typeof part === 'number') return unwrap(def['element']);
      if (def.type === 'record') return unwrap(def['valueType']);
      return [];
    });
  }
  const keys = current.flatMap((candidate) => {
    const def = defOf(candidate)!;
    return def.type === 'object' ? Object.keys(def['shape'] as Record<string, unknown>) : [];
  });
  return [...new Set(keys)];
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'object') return 'object';
  return typeof value;
}

function article(type: string): string {
  const named = type === 'array' ? 'list' : type === 'object' ? 'map of keys' : type;
  return /^[aeiou]/.test(named) ? `an ${named}` : `a ${named}`;
}

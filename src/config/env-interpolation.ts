import { GatehouseConfigError } from '../errors/index.ts';
import { formatIssuePath } from './issue-messages.ts';

/**
 * `${VAR}` and `${VAR:-default}` in a configuration file's string values,
 * so that secrets and per-deployment values come from the environment.
 *
 * It runs on the parsed tree, never on the file's text: a value is only ever
 * a string put where a string was, so a variable holding `"x\nadmin: …"` or
 * `{…}` cannot add keys or change types. `$${` is a literal `${`.
 */

/** Which variables each interpolated string used, by config path (`identityProvider.clientSecret`). */
export type EnvUses = ReadonlyMap<string, readonly EnvUse[]>;

export interface EnvUse {
  readonly name: string;
  /** Unset (and no default was given or the default was used), empty, or set to something. */
  readonly state: 'unset' | 'empty' | 'set';
}

export interface Interpolated {
  readonly data: unknown;
  readonly uses: EnvUses;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Replaces every reference in the tree's strings. Throws GatehouseConfigError naming every unset variable, and where it is used. */
export function interpolateEnv(data: unknown, env: NodeJS.ProcessEnv): Interpolated {
  const uses = new Map<string, EnvUse[]>();
  const problems: string[] = [];
  const walk = (value: unknown, path: PropertyKey[]): unknown => {
    if (typeof value === 'string') {
      if (!value.includes('$')) return value;
      const at = formatIssuePath(path);
      const result = interpolateString(value, env);
      if (result.uses.length > 0) uses.set(at, result.uses);
      for (const problem of result.problems) problems.push(`${at}: ${problem}`);
      return result.value;
    }
    if (Array.isArray(value)) return value.map((item, index) => walk(item, [...path, index]));
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, walk(item, [...path, key])]));
    }
    return value;
  };
  const out = walk(data, []);
  if (problems.length > 0) throw new GatehouseConfigError(problems);
  return { data: out, uses };
}

interface StringResult {
  readonly value: string;
  readonly uses: EnvUse[];
  readonly problems: string[];
}

function interpolateString(text: string, env: NodeJS.ProcessEnv): StringResult {
  const uses: EnvUse[] = [];
  const problems: string[] = [];
  let value = '';
  let index = 0;
  while (index < text.length) {
    const dollar = text.indexOf('$', index);
    if (dollar === -1) {
      value += text.slice(index);
      break;
    }
    value += text.slice(index, dollar);
    if (text.startsWith('$${', dollar)) {
      value += '${';
      index = dollar + 3;
      continue;
    }
    if (!text.startsWith('${', dollar)) {
      // A lone "$" (in a password, a regex) is kept as it is.
      value += '$';
      index = dollar + 1;
      continue;
    }
    const close = text.indexOf('}', dollar + 2);
    const body = close === -1 ? '' : text.slice(dollar + 2, close);
    const separator = body.indexOf(':-');
    const name = separator === -1 ? body : body.slice(0, separator);
    if (close === -1 || !NAME.test(name)) {
      const shown = close === -1 ? text.slice(dollar) : text.slice(dollar, close + 1);
      problems.push(`"${shown}" is not a variable reference: write \${NAME} or \${NAME:-default} (NAME of letters, digits and _), or $\${ for a literal \${`);
      value += shown;
      index = close === -1 ? text.length : close + 1;
      continue;
    }
    const given = env[name];
    if (separator !== -1) {
      // As in a shell: the default stands in for an unset and for an empty variable.
      value += given === undefined || given === '' ? body.slice(separator + 2) : given;
      uses.push({ name, state: given === undefined ? 'unset' : given === '' ? 'empty' : 'set' });
    } else if (given === undefined) {
      problems.push(`environment variable ${name} is not set (used as \${${name}}; give it a value, or a default with \${${name}:-default})`);
      uses.push({ name, state: 'unset' });
    } else {
      value += given;
      uses.push({ name, state: given === '' ? 'empty' : 'set' });
    }
    index = close + 1;
  }
  return { value, uses, problems };
}

/**
 * Adds to each problem whose key took a variable which one it was, so that
 * "must not be empty" says where the empty value came from.
 */
export function withEnvHints(problems: readonly string[], uses: EnvUses): string[] {
  if (uses.size === 0) return [...problems];
  return problems.map((problem) => {
    const at = /^[^\s:]+/.exec(problem)?.[0];
    if (at === undefined) return problem;
    const related = [...uses].filter(([path]) => sameOrNested(path, at) || sameOrNested(at, path)).flatMap(([, used]) => used);
    if (related.length === 0) return problem;
    const names = [...new Set(related.map((use) => use.name))];
    const unsetOrEmpty = [...new Set(related.filter((use) => use.state !== 'set').map((use) => use.name))];
    const hint =
      unsetOrEmpty.length > 0
        ? `from ${list(names)}: ${list(unsetOrEmpty)} ${unsetOrEmpty.length === 1 ? 'is' : 'are'} unset or empty where gatehouse runs`
        : `from ${list(names)}`;
    return `${problem} (${hint})`;
  });
}

function sameOrNested(path: string, parent: string): boolean {
  return path === parent || path.startsWith(`${parent}.`) || path.startsWith(`${parent}[`);
}

function list(names: readonly string[]): string {
  return names.map((name) => `\${${name}}`).join(', ');
}

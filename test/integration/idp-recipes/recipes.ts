import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

const DOC = new URL('../../../docs/identity-providers.md', import.meta.url);

/** A configuration recipe of docs/identity-providers.md: the YAML block under a provider's heading. */
export interface Recipe {
  /** The section heading, e.g. "Okta". */
  readonly provider: string;
  readonly config: Record<string, unknown>;
}

/** Every ```yaml block of docs/identity-providers.md, parsed with the `yaml` package, by the `##` section it is in. */
export function recipes(): Recipe[] {
  const found: Recipe[] = [];
  let provider = '';
  let block: string[] | undefined;
  for (const line of readFileSync(DOC, 'utf8').split('\n')) {
    if (block === undefined && line.startsWith('## ')) provider = line.slice(3).trim();
    else if (block === undefined && line.trim() === '```yaml') block = [];
    else if (block !== undefined && line.trim() === '```') {
      found.push({ provider, config: parse(block.join('\n')) as Record<string, unknown> });
      block = undefined;
    } else if (block !== undefined) block.push(line);
  }
  return found;
}

/** The one recipe of a provider whose heading starts with `name`. */
export function recipe(name: string): Recipe {
  const matching = recipes().filter((entry) => entry.provider.startsWith(name));
  if (matching.length !== 1) throw new Error(`expected one recipe for ${name} in docs/identity-providers.md, found ${matching.length}`);
  return matching[0]!;
}

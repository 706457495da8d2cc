import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

const DOC = new URL('../../../docs/identity-providers.md', import.meta.url);

/** A configuration recipe of docs/identity-providers.md: a YAML block under a provider's heading. */
export interface Recipe {
  /** The section heading, e.g. "Okta". */
  readonly provider: string;
  /** 0 for the provider's first block (its recipe), then 1, 2… for the variants below it (e.g. long sessions). */
  readonly variant: number;
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
      const variant = found.filter((entry) => entry.provider === provider).length;
      found.push({ provider, variant, config: parse(block.join('\n')) as Record<string, unknown> });
      block = undefined;
    } else if (block !== undefined) block.push(line);
  }
  return found;
}

/** The recipe (`variant` 0, its first block) or a variant of the one provider whose heading starts with `name`. */
export function recipe(name: string, variant = 0): Recipe {
  const matching = recipes().filter((entry) => entry.provider.startsWith(name) && entry.variant === variant);
  if (matching.length !== 1) throw new Error(`expected one block ${variant} for ${name} in docs/identity-providers.md, found ${matching.length}`);
  return matching[0]!;
}

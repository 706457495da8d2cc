/** systemd's unit syntax, as much as Gatehouse's units use, for tests that check their directives. */

export type Unit = Map<string, Map<string, string[]>>;

/** Sections, repeated keys, comments, continuation lines. */
export function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const header = /^\[([A-Za-z]+)\]$/.exec(line);
    if (header) {
      section = new Map();
      unit.set(header[1] ?? '', section);
      return;
    }
    const pair = /^([A-Za-z][A-Za-z0-9]*)=(.*)$/.exec(line);
    if (!pair || !section) throw new Error(`line ${index + 1} is neither a section, a key=value nor a comment: ${raw}`);
    const [, key = '', value = ''] = pair;
    section.set(key, [...(section.get(key) ?? []), value.trim()]);
  });
  return unit;
}

/** The last value of a key in a section (systemd's "last one wins" for single-valued keys). */
export function directive(unit: Unit, section: string, key: string): string | undefined {
  return unit.get(section)?.get(key)?.at(-1);
}

/** systemd's Environment= syntax: space-separated KEY=VALUE words. */
export function environmentOf(values: readonly string[]): Map<string, string> {
  return new Map(
    values
      .flatMap((value) => value.split(/\s+/))
      .filter(Boolean)
      .map((word) => [word.slice(0, word.indexOf('=')), word.slice(word.indexOf('=') + 1)]),
  );
}

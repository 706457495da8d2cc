/**
 * The command-line conventions both CLIs share, from one table of commands:
 * `--version`, `--help` for the program and for each command, and usage
 * errors as one line on stderr with a suggestion and exit code 2 (the full
 * usage only with `--help`). Each CLI describes its commands; this parses
 * and writes, so the two cannot drift apart.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { closestKey } from '../config/issue-messages.ts';

export interface CliOption {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly multiple?: boolean;
  /** The value's placeholder in help, e.g. FILE. */
  readonly value?: string;
  /** One line. */
  readonly help: string;
}

export interface CliCommand {
  /** One word, or a group and a word ("service install"). */
  readonly name: string;
  /** One line, for the program's list of commands. */
  readonly summary: string;
  /** What follows the command's name in the synopsis, e.g. "--config FILE [--strict]". */
  readonly synopsis: string;
  readonly options: Readonly<Record<string, CliOption>>;
  readonly examples: readonly string[];
  /** Further paragraphs for `--help` (environment variables, output). */
  readonly notes?: string;
}

export interface CliProgram {
  readonly name: string;
  readonly summary: string;
  readonly commands: readonly CliCommand[];
  /** After the program's help, e.g. where output goes. */
  readonly notes?: string;
}

export type OptionValues = Readonly<Record<string, string | boolean | string[] | undefined>>;

export type CommandLine =
  | { readonly kind: 'version'; readonly text: string }
  | { readonly kind: 'help'; readonly text: string }
  | { readonly kind: 'usage-error'; readonly text: string }
  | { readonly kind: 'command'; readonly command: CliCommand; readonly values: OptionValues };

const GLOBAL_OPTIONS: Readonly<Record<string, CliOption>> = {
  help: { type: 'boolean', short: 'h', help: 'show this help' },
  version: { type: 'boolean', short: 'v', help: 'print the version and exit' },
};

const EXIT_CODES = 'Exit codes: 0 done, 1 failed (the message says why), 2 usage error (a wrong command, option or value).';

/** `gatehouse <version>`, from the package's own package.json (two folders up from src/cli/ and from dist/cli/ alike). */
export function versionLine(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { name: string; version: string };
  return `${pkg.name} ${pkg.version}\n`;
}

/** The one-line usage error and where to read more; `command` names the command whose help to point at. */
export function usageErrorText(program: string, command: string | undefined, message: string): string {
  return `${program}: ${message}\nRun '${program}${command ? ` ${command}` : ''} --help' for usage.\n`;
}

/** Parses `argv` against the program's commands; the caller prints and exits as the result says. */
export function parseCommandLine(program: CliProgram, argv: readonly string[]): CommandLine {
  const all = allOptions(program);
  const guessed = guessCommand(program, argv);
  const error = (message: string, command = guessed?.name): CommandLine => ({ kind: 'usage-error', text: usageErrorText(program.name, command, message) });
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], allowPositionals: true, options: all });
  } catch (thrown) {
    return error(describeParseError(thrown, guessed ? { ...guessed.options, ...GLOBAL_OPTIONS } : all));
  }
  const values = parsed.values as OptionValues;
  if (values['version'] === true) return { kind: 'version', text: versionLine() };
  const words = parsed.positionals;
  const command = program.commands.find((candidate) => startsWith(words, candidate.name.split(' ')));
  if (command === undefined) {
    const group = words[0] !== undefined ? subcommands(program, words[0]) : [];
    if (words[0] !== undefined && group.length > 0 && (words.length === 1 || values['help'] === true)) {
      if (values['help'] === true) return { kind: 'help', text: programHelp(program, words[0]) };
      return error(`${words[0]}: a command is required: ${orList([...new Set(group.map((name) => name.split(' ')[1]!))])}`, words[0]);
    }
    if (values['help'] === true) return { kind: 'help', text: programHelp(program) };
    if (words.length === 0) return error(`a command is required: ${orList(topLevelNames(program))}`, undefined);
    const unknown = words.slice(0, group.length > 0 ? 2 : 1).join(' ');
    const known = group.length > 0 ? group.map((name) => name.split(' ')[1]!) : topLevelNames(program);
    const nearest = closestKey(group.length > 0 ? words[1]! : words[0]!, known);
    return error(`unknown command "${unknown}"${nearest ? `; did you mean "${nearest}"?` : ` (${orList(known)})`}`, group.length > 0 ? words[0] : undefined);
  }
  if (values['help'] === true) return { kind: 'help', text: commandHelp(program, command) };
  const depth = command.name.split(' ').length;
  if (words.length > depth) return error(`${command.name}: unexpected argument "${words[depth]}"`, command.name);
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined && !(name in command.options)) return error(`--${name} does not apply to ${command.name}`, command.name);
  }
  return { kind: 'command', command, values };
}

/** Prints what --version, --help or a usage mistake asks for (help on stdout, the mistake on stderr); returns the exit code. */
export function answerCommandLine(line: Exclude<CommandLine, { kind: 'command' }>): number {
  if (line.kind === 'usage-error') {
    process.stderr.write(line.text);
    return 2;
  }
  process.stdout.write(line.text);
  return 0;
}

/** `gatehouse serve --help`: synopsis, what it does, each option on one line, an example. */
export function commandHelp(program: CliProgram, command: CliCommand): string {
  const options = { ...command.options, help: GLOBAL_OPTIONS['help']! };
  const lines = [
    `Usage: ${program.name} ${command.name} ${command.synopsis}`.trimEnd(),
    '',
    `${capitalize(command.summary)}.`,
    '',
    'Options:',
    ...optionLines(options),
    '',
    command.examples.length === 1 ? 'Example:' : 'Examples:',
    ...command.examples.map((example) => `  ${example}`),
  ];
  if (command.notes) lines.push('', command.notes.trimEnd());
  return `${lines.join('\n')}\n`;
}

/** `gatehouse --help`, or the help of a group of commands (`gatehouse-connector service --help`). */
export function programHelp(program: CliProgram, group?: string): string {
  const commands = program.commands.filter((command) => (group === undefined ? true : command.name.startsWith(`${group} `)));
  const width = Math.max(...commands.map((command) => command.name.length));
  const lines = [
    'Usage:',
    ...commands.map((command) => `  ${program.name} ${command.name} ${command.synopsis}`.trimEnd()),
    `  ${program.name} --version`,
    '',
    ...(group === undefined ? [`${capitalize(program.summary)}.`, ''] : []),
    'Commands:',
    ...commands.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
    'Options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    `Run '${program.name} <command> --help' for a command's options and an example.`,
    EXIT_CODES,
  ].filter((line, index, all) => !(line === '' && all[index - 1] === ''));
  if (program.notes && group === undefined) lines.push(program.notes.trimEnd());
  return `${lines.join('\n')}\n`;
}

function optionLines(options: Readonly<Record<string, CliOption>>): string[] {
  const heads = Object.entries(options).map(([name, option]) => {
    const short = option.short ? `-${option.short}, ` : '    ';
    return `  ${short}--${name}${option.value ? ` ${option.value}` : ''}`;
  });
  const width = Math.max(...heads.map((head) => head.length));
  return Object.values(options).map((option, index) => `${heads[index]!.padEnd(width)}  ${option.help}`);
}

/** Every command's options and the global ones, for one strict parse; a name shared by commands has one type. */
function allOptions(program: CliProgram): Record<string, CliOption> {
  const all: Record<string, CliOption> = { ...GLOBAL_OPTIONS };
  for (const command of program.commands) {
    for (const [name, option] of Object.entries(command.options)) {
      const seen = all[name];
      if (seen && (seen.type !== option.type || seen.multiple !== option.multiple || seen.short !== option.short)) {
        throw new TypeError(`option --${name} is declared differently by two commands of ${program.name}`);
      }
      all[name] = option;
    }
  }
  return all;
}

/** The command the words name, ignoring options, for the suggestion and the help pointer of a parse error. */
function guessCommand(program: CliProgram, argv: readonly string[]): CliCommand | undefined {
  const words = argv.filter((arg) => !arg.startsWith('-'));
  let best: CliCommand | undefined;
  for (const command of program.commands) {
    const parts = command.name.split(' ');
    const at = words.indexOf(parts[0]!);
    if (at >= 0 && startsWith(words.slice(at), parts) && (best === undefined || parts.length > best.name.split(' ').length)) best = command;
  }
  return best;
}

/** Node's ERR_PARSE_ARGS_* in one line, with the nearest known option for an unknown one. */
function describeParseError(thrown: unknown, known: Readonly<Record<string, CliOption>>): string {
  const code = (thrown as { code?: unknown }).code;
  const message = thrown instanceof Error ? thrown.message : String(thrown);
  const quoted = /'(-[^']*)'/.exec(message)?.[1] ?? '';
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const name = quoted.replace(/=.*$/, '');
    const nearest = name.startsWith('--') ? closestKey(name.slice(2), Object.keys(known)) : undefined;
    return `unknown option ${name}${nearest ? `; did you mean --${nearest}?` : ''}`;
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const name = /--[\w-]+/.exec(quoted)?.[0] ?? quoted;
    if (message.includes('does not take an argument')) return `option ${name} takes no value`;
    if (message.includes('ambiguous')) return `option ${name} needs a value (one that starts with "-" is given as ${name}=-…)`;
    return `option ${name} needs a value`;
  }
  return message.split('\n')[0]!;
}

function topLevelNames(program: CliProgram): string[] {
  return [...new Set(program.commands.map((command) => command.name.split(' ')[0]!))];
}

function subcommands(program: CliProgram, group: string): string[] {
  return program.commands.filter((command) => command.name.startsWith(`${group} `)).map((command) => command.name);
}

function startsWith(words: readonly string[], parts: readonly string[]): boolean {
  return parts.every((part, index) => words[index] === part);
}

function orList(names: readonly string[]): string {
  return names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** A string option's value, if given. */
export function stringOption(values: OptionValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

/** A repeatable option's values, if given. */
export function listOption(values: OptionValues, name: string): string[] | undefined {
  const value = values[name];
  return Array.isArray(value) ? value : undefined;
}

/** Whether a boolean option was given. */
export function flagOption(values: OptionValues, name: string): boolean {
  return values[name] === true;
}

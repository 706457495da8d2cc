/**
 * `gatehouse check` once the file has loaded and parsed (which already read
 * every file and checked every PEM, as start does): what start would still
 * refuse (startProblems, which serve runs too), the warnings the gateway
 * logs at start, and with --online the identity provider's discovery.
 */
import { configWarnings } from '../config/config-warnings.ts';
import type { GatewayConfig } from '../config/parse.ts';
import { startProblems } from '../config/start-problems.ts';
import { GatehouseConfigError } from '../errors/index.ts';
import { checkIdentityProvider } from './check-online.ts';

export interface CheckOptions {
  /** The file's name as given, for the verdict line. */
  readonly file: string;
  /** Warnings refuse the file too. */
  readonly strict: boolean;
  /** Also run discovery against the identity provider. */
  readonly online: boolean;
}

/** Prints problems and warnings to stderr and the verdict to stdout; resolves with the exit code (0 valid, 1 not). */
export async function runCheck(config: GatewayConfig, options: CheckOptions): Promise<number> {
  const problems = startProblems(config);
  if (problems.length > 0) {
    process.stderr.write(`gatehouse: ${new GatehouseConfigError(problems).message}\n`);
    return 1;
  }
  const warnings = configWarnings(config);
  if (options.online) {
    const report = await checkIdentityProvider(config.identityProvider);
    for (const line of report.lines) process.stdout.write(`${line}\n`);
    warnings.push(...report.warnings);
    if (report.problems.length > 0) {
      for (const warning of warnings) process.stderr.write(`gatehouse check: warning: ${warning}\n`);
      process.stderr.write(`gatehouse: ${new GatehouseConfigError(report.problems).message}\n`);
      return 1;
    }
  }
  for (const warning of warnings) process.stderr.write(`gatehouse check: warning: ${warning}\n`);
  const counted = warnings.length > 0 ? `${warnings.length} warning${warnings.length === 1 ? '' : 's'}` : '';
  if (counted && options.strict) {
    process.stderr.write(`gatehouse check: ${options.file}: ${counted}, refused with --strict\n`);
    return 1;
  }
  const apps = `${config.apps.length} app${config.apps.length === 1 ? '' : 's'}`;
  process.stdout.write(`${options.file}: valid (${apps}${counted ? `, ${counted}` : ''})\n`);
  return 0;
}

import { readFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { GatehouseConfigError } from '../errors/index.ts';
import { interpolateEnv, withEnvHints } from './env-interpolation.ts';
import { parseGatewayConfig, type GatewayConfig } from './parse.ts';

/**
 * Reads a YAML (.yaml/.yml) or JSON (.json) configuration file, replaces
 * `${VAR}` references in its string values from `env`, and validates it.
 */
export function loadGatewayConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new GatehouseConfigError([`config file "${file}": cannot read it (${code})`]);
  }
  let data: unknown;
  try {
    data = extname(path).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : 'syntax error';
    throw new GatehouseConfigError([`config file "${file}": not valid ${extname(path).toLowerCase() === '.json' ? 'JSON' : 'YAML'}: ${message}`]);
  }
  const { data: interpolated, uses } = interpolateEnv(data, env);
  try {
    return parseGatewayConfig(interpolated, { baseDir: dirname(path) });
  } catch (error) {
    // A key that took a variable says which: an empty secret is most often an unset variable.
    if (error instanceof GatehouseConfigError && uses.size > 0) throw new GatehouseConfigError(withEnvHints(error.issues, uses));
    throw error;
  }
}

import { readFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { GatehouseConfigError } from '../errors/index.ts';
import { parseGatewayConfig, type GatewayConfig } from './parse.ts';

/** Reads a YAML (.yaml/.yml) or JSON (.json) configuration file and validates it. */
export function loadGatewayConfigFile(file: string): GatewayConfig {
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
  return parseGatewayConfig(data, { baseDir: dirname(path) });
}

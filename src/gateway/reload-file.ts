/**
 * The configuration `gatehouse serve` and `gatehouse check` run with: the
 * file, through the one loader, with what the environment overrides. Start,
 * check and every reload read it here, so that a reload sees what a restart
 * would (an override is not mistaken for a change of `store.url`).
 */
import { loadGatewayConfigFile } from '../config/load-file.ts';
import type { GatewayConfig } from '../config/parse.ts';
import { parseStoreUrl, resolveStoreUrl } from '../config/store-schema.ts';
import { GatehouseConfigError } from '../errors/index.ts';
import { caKeyRingProblem } from '../pki/ca-key-ring.ts';
import type { ReloadResult } from './reload.ts';

/** Reads and validates the file, then applies `GATEHOUSE_STORE_URL` and `GATEHOUSE_CA_KEY`. Throws GatehouseConfigError naming every problem. */
export function readServeConfig(file: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  let config = loadGatewayConfigFile(file, env);
  // The environment wins over the file, as a flag would: one image, one config file, a store per deployment.
  const storeUrl = env['GATEHOUSE_STORE_URL'];
  if (storeUrl !== undefined && storeUrl !== '') {
    const problem = parseStoreUrl(storeUrl);
    if (typeof problem === 'string') throw new GatehouseConfigError([`GATEHOUSE_STORE_URL: ${problem}`]);
    config = Object.freeze({ ...config, store: Object.freeze({ url: resolveStoreUrl(storeUrl, process.cwd()) }) });
  }
  const caKey = env['GATEHOUSE_CA_KEY'];
  if (caKey !== undefined && caKey !== '' && config.connectors) {
    const problem = caKeyRingProblem(caKey);
    if (problem !== undefined) throw new GatehouseConfigError([`GATEHOUSE_CA_KEY: ${problem}`]);
    config = Object.freeze({ ...config, connectors: Object.freeze({ ...config.connectors, caKey }) });
  }
  return config;
}

/** The progress line(s) `gatehouse serve` prints for a reload. */
export function reloadSummary(file: string, result: ReloadResult): string {
  if (!result.applied) {
    return `gatehouse: reload of ${file} refused, the running configuration stays:\n${result.problems.map((problem) => `  - ${problem}\n`).join('')}`;
  }
  const changed = result.changed.length > 0 ? result.changed.join(', ') : 'nothing changed';
  return `gatehouse: reloaded ${file} (${changed})\n${result.warnings.map((warning) => `gatehouse: warning: ${warning}\n`).join('')}`;
}

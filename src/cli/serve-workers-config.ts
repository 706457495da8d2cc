/**
 * `gatehouse serve --workers N`: what each worker changes in the configuration (its own connector and admin
 * listeners), and why a configuration cannot run several workers.
 */
import { availableParallelism } from 'node:os';
import type { GatewayConfig } from '../config/parse.ts';

/** `--workers`: a count, or `auto` (one per core the process may use). Undefined: the text is not one. */
export function parseWorkers(text: string): number | undefined {
  if (text === 'auto') return availableParallelism();
  const count = Number(text);
  return text.trim() !== '' && Number.isInteger(count) && count >= 1 && count <= 1024 ? count : undefined;
}

const SHARED_STORE = /^rediss?(\+(sentinel|cluster))?:\/\//;

/** Why these workers cannot share this configuration: empty when they can. */
export function workersProblems(config: GatewayConfig, workers: number): string[] {
  if (workers <= 1) return [];
  const problems: string[] = [];
  const url = config.store?.url;
  // memory: is per process; SQLite would be one file written by several processes, which the store does not coordinate.
  if (url === undefined || !SHARED_STORE.test(url))
    problems.push(
      `--workers ${workers} needs a shared store: store.url (or GATEHOUSE_STORE_URL) must be redis://, rediss://, redis+sentinel:// or redis+cluster://, not ${url === undefined ? 'the default' : `"${url.split(':')[0]}:"`} (each worker would keep its own sign-outs, sign-in states and connector state)`,
    );
  const connectors = config.connectors;
  if (connectors && connectors.listen.port === 0 && (connectors.advertiseUrl ?? connectors.publicUrl) !== undefined)
    problems.push(
      `--workers ${workers}: connectors.listen.port must not be 0 when connectors.advertiseUrl or publicUrl is set (worker i listens on port + i - 1 and advertises it)`,
    );
  if (connectors && connectors.listen.port !== 0 && connectors.listen.port + workers - 1 > 65535)
    problems.push(`--workers ${workers}: connectors.listen.port ${connectors.listen.port} leaves no room for one connector port per worker`);
  if (config.admin && config.admin.listen.port !== 0 && config.admin.listen.port + workers - 1 > 65535)
    problems.push(`--workers ${workers}: admin.listen port ${config.admin.listen.port} leaves no room for one admin port per worker`);
  return problems;
}

function shifted(port: number, index: number): number {
  return port === 0 ? 0 : port + index - 1;
}

/**
 * Worker `index` (1-based) as its own gateway instance: its connector listener on connectors.listen.port + index - 1,
 * advertised to connectors under the host of advertiseUrl (else publicUrl) with that port, so connectors dial every
 * worker as they dial every instance; its admin listener on admin.listen's port + index - 1. The users' port is shared.
 */
export function workerConfig(config: GatewayConfig, index: number): GatewayConfig {
  let result = config;
  const connectors = config.connectors;
  if (connectors) {
    const port = shifted(connectors.listen.port, index);
    const base = connectors.advertiseUrl ?? connectors.publicUrl;
    let advertiseUrl = connectors.advertiseUrl;
    if (base !== undefined) {
      const url = new URL(base);
      url.port = String(port);
      advertiseUrl = url.toString().replace(/\/$/, '');
    }
    result = Object.freeze({
      ...result,
      connectors: Object.freeze({ ...connectors, listen: Object.freeze({ ...connectors.listen, port }), ...(advertiseUrl ? { advertiseUrl } : {}) }),
    });
  }
  if (config.admin) {
    const admin = config.admin;
    result = Object.freeze({
      ...result,
      admin: Object.freeze({ ...admin, listen: Object.freeze({ ...admin.listen, port: shifted(admin.listen.port, index) }) }),
    });
  }
  return result;
}

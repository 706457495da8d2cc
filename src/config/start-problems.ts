import { accessSync, constants, statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { auditSettingsProblems } from '../audit/create-audit-sinks.ts';
import type { GatewayConfig } from './parse.ts';

/**
 * What would stop a gateway from starting once its configuration has parsed,
 * found without creating, opening or binding anything: for `gatehouse check`,
 * which would otherwise call a file valid that `serve` then refuses. Parsing
 * already reads every `…File` and checks secrets and PEM material (the same
 * code start runs); left are the audit settings (read when the sinks are
 * made) and the folders the gateway writes to. Each problem is named by key.
 */
export function startProblems(config: Pick<GatewayConfig, 'audit' | 'baseDir' | 'connectors'>): string[] {
  const problems = auditSettingsProblems(config.audit, { baseDir: config.baseDir });
  if (config.connectors) {
    const problem = stateDirProblem(config.connectors.stateDir);
    if (problem !== undefined) problems.push(`connectors.stateDir: "${config.connectors.stateDir}" ${problem}`);
  }
  return problems;
}

/** Start creates the folder (and its parents) 0700, or tightens an existing one to 0700, which only its owner can. */
function stateDirProblem(path: string): string | undefined {
  const existing = statOrUndefined(path);
  if (existing) {
    if (!existing.isDirectory()) return 'is not a folder';
    if (!canWrite(path)) return 'is not writable by this user';
    const uid = process.getuid?.();
    if (uid !== undefined && uid !== 0 && existing.uid !== uid && (existing.mode & 0o777) !== 0o700) {
      return 'belongs to another user: the gateway must own it to keep it 0700 (it holds the connector CA’s private key)';
    }
    return undefined;
  }
  // The nearest folder that exists must let this user create the rest.
  let parent = dirname(path);
  let info = statOrUndefined(parent);
  while (!info && dirname(parent) !== parent) {
    parent = dirname(parent);
    info = statOrUndefined(parent);
  }
  if (!info) return 'cannot be created';
  if (!info.isDirectory()) return `cannot be created: "${parent}" is not a folder`;
  return canWrite(parent) ? undefined : `cannot be created: "${parent}" is not writable by this user`;
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function canWrite(path: string): boolean {
  try {
    accessSync(path, constants.W_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

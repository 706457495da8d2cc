import { accessSync, constants, statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { sqliteStatePath } from './store-schema.ts';
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
export function startProblems(config: Pick<GatewayConfig, 'audit' | 'baseDir' | 'connectors' | 'store'>): string[] {
  const problems = auditSettingsProblems(config.audit, { baseDir: config.baseDir });
  if (config.connectors) {
    const problem = stateDirProblem(config.connectors.stateDir);
    if (problem !== undefined) problems.push(`connectors.stateDir: "${config.connectors.stateDir}" ${problem}`);
  }
  const database = sqliteStatePath(config.store.url);
  // In the connector state folder (the default), the folder was checked just above: one problem, named once.
  if (database !== undefined && dirname(database) !== config.connectors?.stateDir) {
    const problem = databaseProblem(database);
    if (problem !== undefined) problems.push(`store.url: "${database}" ${problem}`);
  }
  return problems;
}

/** SQLite writes the file and, in WAL mode, two more beside it (-wal, -shm): the folder must be writable, not only the file. */
function databaseProblem(path: string): string | undefined {
  const existing = statOrUndefined(path);
  if (existing) {
    if (!existing.isFile()) return 'is not a file';
    try {
      accessSync(path, constants.R_OK | constants.W_OK);
    } catch {
      return 'is not writable by this user';
    }
  }
  const folder = folderProblem(dirname(path));
  return folder === undefined ? undefined : `cannot be used: its folder "${dirname(path)}" ${folder}`;
}

/** Start creates the folder (and its parents) 0700, or tightens an existing one to 0700, which only its owner can. */
function stateDirProblem(path: string): string | undefined {
  const problem = folderProblem(path);
  if (problem !== undefined) return problem;
  const existing = statOrUndefined(path);
  const uid = process.getuid?.();
  if (existing && uid !== undefined && uid !== 0 && existing.uid !== uid && (existing.mode & 0o777) !== 0o700) {
    return 'belongs to another user: the gateway must own it to keep it 0700 (it holds the connector CA’s private key)';
  }
  return undefined;
}

/** A folder this user can write in, or create (the nearest folder that exists must let it create the rest). */
function folderProblem(path: string): string | undefined {
  const existing = statOrUndefined(path);
  if (existing) {
    if (!existing.isDirectory()) return 'is not a folder';
    return canWrite(path) ? undefined : 'is not writable by this user';
  }
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

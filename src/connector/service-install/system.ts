/**
 * The seam between the installer and the machine: every change it makes goes
 * through one of these few calls, so the same plan runs on the host (as
 * root: useradd, chown, systemctl), under a prefix (`--root DIR`: files only,
 * for packaging and tests), or not at all (`--dry-run` prints the plan).
 */
import { spawn } from 'node:child_process';
import { chmod, mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../../store/atomic-file.ts';
import { ServiceInstallError } from './errors.ts';

export interface Owner {
  readonly user: string;
  readonly group: string;
}

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface InstallSystem {
  /** False under a prefix: users, ownership and systemd belong to the machine the prefix is installed on later. */
  readonly managesHost: boolean;
  /** Where a path of the installed system lives on this machine. */
  localPath(path: string): string;
  readFile(path: string): Promise<string | undefined>;
  writeFile(path: string, content: string, mode: number, owner: Owner): Promise<void>;
  makeDirectory(path: string, mode: number, owner: Owner): Promise<void>;
  remove(path: string): Promise<void>;
  /** Runs one of the commands of `commands` below; a non-zero exit is returned, not thrown. */
  run(argv: readonly string[]): Promise<CommandResult>;
}

/** The exact commands, shared by the host system and the dry-run listing. */
export const commands = Object.freeze({
  userExists: (name: string): string[] => ['id', '-u', name],
  createUser: (name: string): string[] => [
    'useradd',
    '--system',
    '--user-group',
    '--no-create-home',
    '--home-dir',
    '/nonexistent',
    '--shell',
    '/usr/sbin/nologin',
    name,
  ],
  deleteUser: (name: string): string[] => ['userdel', name],
  chown: (owner: Owner, path: string, recursive = false): string[] => ['chown', ...(recursive ? ['-R'] : []), `${owner.user}:${owner.group}`, path],
  systemctl: (...args: string[]): string[] => ['systemctl', ...args],
});

/** Runs a command without a shell, collecting its output. */
export function runCommand(argv: readonly string[]): Promise<CommandResult> {
  const [file, ...args] = argv;
  return new Promise((resolve) => {
    const child = spawn(file ?? '', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    // A missing binary (no systemd, no useradd) is an exit like any other, with the reason in stderr.
    child.on('error', (error: NodeJS.ErrnoException) => resolve({ code: 127, stdout, stderr: `${file}: ${error.code ?? error.message}` }));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** Runs a command that must succeed; its failure names the command and what it printed. */
export async function mustRun(system: InstallSystem, argv: readonly string[]): Promise<void> {
  const result = await system.run(argv);
  if (result.code !== 0) {
    const said = (result.stderr || result.stdout).trim().split('\n').at(-1) ?? '';
    throw new ServiceInstallError('ERR_INSTALL_STEP_FAILED', `\`${argv.join(' ')}\` failed (exit ${result.code})${said ? `: ${said}` : ''}`);
  }
}

async function readIfThere(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function fileSystem(localPath: (path: string) => string, chownTo: ((owner: Owner, path: string) => Promise<void>) | undefined) {
  return {
    localPath,
    readFile: (path: string) => readIfThere(localPath(path)),
    async writeFile(path: string, content: string, mode: number, owner: Owner): Promise<void> {
      // Under a prefix, /etc/systemd/system is not there yet; on a host it is, and keeps its mode.
      await mkdir(dirname(localPath(path)), { recursive: true, mode: 0o755 });
      await writeFileAtomic(localPath(path), content, mode);
      await chownTo?.(owner, localPath(path));
    },
    async makeDirectory(path: string, mode: number, owner: Owner): Promise<void> {
      await mkdir(localPath(path), { recursive: true, mode });
      // mkdir's mode is narrowed by the umask and ignored for an existing directory.
      await chmod(localPath(path), mode);
      await chownTo?.(owner, localPath(path));
    },
    remove: (path: string) => rm(localPath(path), { recursive: true, force: true }),
  };
}

/** This machine, as root. */
export function hostSystem(): InstallSystem {
  const self: InstallSystem = {
    managesHost: true,
    ...fileSystem(
      (path) => path,
      (owner, path) => mustRun(self, commands.chown(owner, path)),
    ),
    run: runCommand,
  };
  return self;
}

/** Files under `root` only: no user, no ownership, no systemd. */
export function prefixSystem(root: string): InstallSystem {
  return {
    managesHost: false,
    ...fileSystem((path) => join(root, path), undefined),
    run: (argv) => Promise.reject(new Error(`${argv.join(' ')}: not run under a prefix`)),
  };
}

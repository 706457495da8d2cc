/**
 * Carries out a plan with a progress line per step, or (`--dry-run`) prints
 * it: each step's line, every file in full with its mode and owner, every
 * command as it would run.
 */
import { registerConnector, type RegistrationSummary } from '../register.ts';
import type { InstallRegistration, Step } from './plan.ts';
import { mustRun, type InstallSystem } from './system.ts';

export interface ApplyOptions {
  readonly registration?: InstallRegistration;
  /** One line per step, for the person at the terminal. */
  readonly progress: (line: string) => void;
  readonly signal?: AbortSignal;
}

const modeText = (mode: number): string => mode.toString(8).padStart(4, '0');

/** The plan as `--dry-run` prints it. */
export function describePlan(steps: readonly Step[], system: InstallSystem): string {
  const lines: string[] = [];
  steps.forEach((step, index) => {
    const head = `[${index + 1}/${steps.length}]`;
    switch (step.kind) {
      case 'keep':
        lines.push(`${head} ${step.title}`);
        break;
      case 'command':
        lines.push(`${head} ${step.title}`, `    $ ${step.argv.join(' ')}`);
        break;
      case 'directory':
        lines.push(
          `${head} ${step.title}`,
          `    mkdir -p ${system.localPath(step.path)} (mode ${modeText(step.mode)}${system.managesHost ? `, owner ${step.owner.user}:${step.owner.group}` : ''})`,
        );
        break;
      case 'remove':
        lines.push(`${head} ${step.title}`, `    rm -rf ${system.localPath(step.path)}`);
        break;
      case 'register':
        lines.push(`${head} ${step.title}`, `    writes connector.json, connector.key, connector.crt, ca.crt (0600) into ${system.localPath(step.stateDir)}`);
        break;
      case 'file': {
        const owner = system.managesHost ? `, owner ${step.owner.user}:${step.owner.group}` : '';
        lines.push(`${head} ${step.title}`, `    write ${system.localPath(step.path)} (mode ${modeText(step.mode)}${owner}):`);
        lines.push(
          ...step.content
            .replace(/\n$/, '')
            .split('\n')
            .map((line) => `    | ${line}`),
        );
        break;
      }
    }
  });
  return `${lines.join('\n')}\n`;
}

/** Runs every step in order; the first failure stops the rest. Returns the new registration, if one was made. */
export async function applyPlan(steps: readonly Step[], system: InstallSystem, options: ApplyOptions): Promise<RegistrationSummary | undefined> {
  let summary: RegistrationSummary | undefined;
  for (const [index, step] of steps.entries()) {
    options.progress(`[${index + 1}/${steps.length}] ${step.title}`);
    switch (step.kind) {
      case 'keep':
        break;
      case 'command':
        await mustRun(system, step.argv);
        break;
      case 'directory':
        await system.makeDirectory(step.path, step.mode, step.owner);
        break;
      case 'file':
        await system.writeFile(step.path, step.content, step.mode, step.owner);
        break;
      case 'remove':
        await system.remove(step.path);
        break;
      case 'register':
        if (options.registration === undefined) throw new Error('a register step needs the registration inputs');
        // As root, in this process; the next step hands the files to the service's user.
        summary = await registerConnector({
          ...options.registration,
          stateDir: system.localPath(step.stateDir),
          progress: (line) => options.progress(`    ${line}`),
          ...(options.signal ? { signal: options.signal } : {}),
        });
        options.progress(`    registered connector ${summary.connectorId} in group ${summary.group}, certificate valid until ${summary.notAfter}`);
        break;
    }
  }
  return summary;
}

/**
 * The chaos schedule: steps at fixed times from the start of the load, run
 * one after another. A step that cuts the data path (a connector killed, the
 * backend restarted) opens a window in the tally, within which a response
 * cut after its headers is put down to it.
 */
import type { Tally } from './tally.ts';

export interface Step {
  /** Seconds from the start of the load. */
  readonly at: number;
  readonly name: string;
  /** True when the step kills something requests pass through. */
  readonly dataPath: boolean;
  readonly run: () => Promise<void>;
}

export interface Parts {
  killConnector(index: 0 | 1): Promise<void>;
  runConnector(index: 0 | 1): Promise<void>;
  stopBackend(): Promise<void>;
  startBackend(): Promise<void>;
  idpDown(): Promise<void>;
  idpUp(): Promise<void>;
  /** Called while the identity provider is down: what a sign-in does then. */
  signInWhileIdpDown(): Promise<void>;
  /** Signs the second session out, so that the store must keep that sign-out across the Redis restart. */
  signOutLeaver(): Promise<void>;
  stopRedis(): Promise<void>;
  startRedis(): Promise<void>;
}

const pause = (seconds: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

/** The schedule of a full run (about 5 minutes of load) or a quick one (about 25 s). */
export function schedule(parts: Parts, quick: boolean): { steps: Step[]; loadSeconds: number } {
  const idpDownSeconds = quick ? 5 : 20;
  const outage = (seconds: number): Promise<void> => pause(seconds);
  const both = async (action: (index: 0 | 1) => Promise<void>): Promise<void> => void (await Promise.all([action(0), action(1)]));
  const core = (t: (full: number, fast: number) => number): Step[] => [
    { at: t(15, 2), name: 'kill connector-a (SIGKILL)', dataPath: true, run: () => parts.killConnector(0) },
    { at: t(25, 4), name: 'restart connector-a', dataPath: true, run: () => parts.runConnector(0) },
    {
      at: t(50, 7),
      name: 'restart the backend',
      dataPath: true,
      run: async () => {
        await parts.stopBackend();
        await outage(quick ? 1 : 3);
        await parts.startBackend();
      },
    },
    {
      at: t(80, 10),
      name: `identity provider down ${idpDownSeconds} s`,
      dataPath: false,
      run: async () => {
        await parts.idpDown();
        await parts.signInWhileIdpDown();
        await outage(idpDownSeconds - 1);
        await parts.idpUp();
      },
    },
    {
      at: t(120, 16),
      name: 'sign-out, then restart redis-server',
      dataPath: false,
      run: async () => {
        await parts.signOutLeaver();
        await parts.stopRedis();
        await outage(quick ? 1 : 3);
        await parts.startRedis();
      },
    },
    { at: t(160, 19), name: 'kill connector-b (SIGKILL)', dataPath: true, run: () => parts.killConnector(1) },
    { at: t(170, 21), name: 'restart connector-b', dataPath: true, run: () => parts.runConnector(1) },
  ];
  const steps = core((full, fast) => (quick ? fast : full));
  if (!quick) {
    steps.push(
      { at: 200, name: 'kill both connectors', dataPath: true, run: () => both((index) => parts.killConnector(index)) },
      { at: 206, name: 'restart both connectors', dataPath: true, run: () => both((index) => parts.runConnector(index)) },
      {
        at: 230,
        name: 'restart the backend again',
        dataPath: true,
        run: async () => {
          await parts.stopBackend();
          await outage(1);
          await parts.startBackend();
        },
      },
      {
        at: 255,
        name: 'kill connector-a and restart it at once',
        dataPath: true,
        run: async () => {
          await parts.killConnector(0);
          await parts.runConnector(0);
        },
      },
    );
  }
  return { steps, loadSeconds: quick ? 25 : 285 };
}

/** Runs the steps at their times; `phase` tells the progress line what is going on. */
export async function runSchedule(steps: readonly Step[], tally: Tally, onPhase: (phase: string) => void): Promise<void> {
  for (const step of steps) {
    const wait = step.at * 1000 - tally.now();
    if (wait > 0) await pause(wait / 1000);
    onPhase(step.name);
    const window = step.dataPath ? tally.openWindow(step.name) : undefined;
    await step.run();
    if (window) window.toMs = tally.now();
    onPhase('steady');
  }
}

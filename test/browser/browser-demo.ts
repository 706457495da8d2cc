/**
 * What the browser tests share: the demo stack on free loopback ports, and a
 * headless Debian Chromium without the background traffic that would add
 * noise to what a test watches.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { startDemo, type Demo } from '../../dev/demo/demo-stack.ts';
import { freePort } from '../support/free-port.ts';

export const CHROMIUM = '/usr/bin/chromium';

/** Attempts at starting the demo: its ports are chosen before it binds them, so a test running beside it may take one. */
const DEMO_START_ATTEMPTS = 3;

/** The demo in `dir`, on four ports free a moment ago; chosen afresh when one was taken in between. */
export async function startDemoOnFreePorts(dir: string): Promise<Demo> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startDemo({
        port: await freePort(),
        connectorPort: await freePort(),
        identityProviderPort: await freePort(),
        adminPort: await freePort(),
        dir,
        progress: () => {},
      });
    } catch (error) {
      // startDemo stopped whatever it had started before it threw.
      if (attempt >= DEMO_START_ATTEMPTS || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    }
  }
}

export function launchChromium(): Promise<Browser> {
  assert.ok(existsSync(CHROMIUM), `Chromium is needed at ${CHROMIUM}: apt-get install -y chromium (.ci/run does this)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

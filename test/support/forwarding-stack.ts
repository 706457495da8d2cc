import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_DEV_USERS, type DevUser } from '../../dev/lib/identity-provider/index.ts';
import { startRegisteredConnector, type RunningConnector } from '../../dev/lib/connector-process.ts';
import type { RawTarget } from './raw-forward.ts';
import { signIn, startStack, type Stack } from './stack.ts';

export type ForwardingMode = 'direct' | 'tunnel';

/** A user whose group names hold the list separator and the escape character. */
export const CAROL: DevUser = {
  login: 'carol',
  password: 'carol-password',
  sub: 'user-carol',
  name: 'Carol',
  email: 'carol@gatehouse.test',
  groups: ['R&D, Europe', 'ops', '100%'],
  mfa: false,
};

export interface ForwardingStack {
  readonly stack: Stack;
  /** Cookie headers of signed-in sessions on the wiki app (which forwards X-Remote-User and X-Remote-Groups). */
  readonly cookies: { readonly alice: string; readonly carol: string };
  target(app: 'wiki' | 'open'): RawTarget;
  close(): Promise<void>;
}

/**
 * The real stack for forwarding tests: wiki (pre-authenticated, with identity
 * headers) and open (pass-through) in front of the same echo backend, reached
 * directly or through a real connector process; alice and carol signed in.
 */
export async function startForwardingStack(mode: ForwardingMode): Promise<ForwardingStack> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-forwarding-'));
  const stack = await startStack({
    connectors: mode === 'tunnel',
    users: [...DEFAULT_DEV_USERS, CAROL],
    configure: (config) => ({
      ...config,
      apps: (config.apps ?? []).map((app) =>
        app.id === 'wiki' ? { ...app, identityHeaders: { 'X-Remote-User': 'email', 'X-Remote-Groups': 'groups' } } : app,
      ),
    }),
  });
  let connector: RunningConnector | undefined;
  try {
    if (mode === 'tunnel') connector = await startRegisteredConnector(stack, join(dir, 'connector'));
    const signedIn = async (user: string): Promise<string> => {
      const browser = stack.browser();
      await signIn(stack, browser, user);
      const cookie = await browser.jar.getCookieString(stack.urls.wiki);
      assert.match(cookie, /__Host-gatehouse=/);
      return cookie;
    };
    const cookies = { alice: await signedIn('alice'), carol: await signedIn('carol') };
    return {
      stack,
      cookies,
      target: (app) => ({ port: stack.port, host: new URL(stack.urls[app]).host, ca: stack.ca.certPem }),
      async close() {
        await connector?.process.stop('SIGKILL');
        await stack.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await connector?.process.stop('SIGKILL');
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

import assert from 'node:assert/strict';
import { DEFAULT_DEV_USERS, type DevUser } from '../../dev/lib/identity-provider/index.ts';
import { startConnectorStack } from './connector-stack.ts';
import type { RawTarget } from './raw-forward.ts';
import { signIn, type Stack } from './stack.ts';

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
  const setup = await startConnectorStack({
    tmpPrefix: 'gatehouse-forwarding-',
    connectors: mode === 'tunnel',
    users: [...DEFAULT_DEV_USERS, CAROL],
    configure: (config) => ({
      ...config,
      apps: (config.apps ?? []).map((app) =>
        app.id === 'wiki' ? { ...app, identityHeaders: { 'X-Remote-User': 'email', 'X-Remote-Groups': 'groups' } } : app,
      ),
    }),
  });
  const { stack } = setup;
  try {
    if (mode === 'tunnel') await setup.startConnector('connector');
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
      close: () => setup.stop(),
    };
  } catch (error) {
    await setup.stop();
    throw error;
  }
}

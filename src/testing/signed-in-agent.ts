import type { Gateway } from '../gateway/create-gateway.ts';
import type { TestSessionUser } from '../gateway/testing-hooks.ts';
import { TestingError } from './errors.ts';
import { agentFor, type TestedApp, type TestingAgent } from './load-supertest.ts';
import { publishedApp, testingHooksOf } from './testing-hooks.ts';

/** Options of `signedInAgent()` and `anonymousAgent()`. */
export interface AgentOptions {
  /** Host header to send. Default: the host of the app's externalUrl. */
  readonly host?: string;
}

/**
 * A supertest agent signed in to one published app as `user`: its requests
 * carry the app's Host and a session cookie sealed with the gateway's real
 * keys, so they pass the real session gate and the app's real
 * conditional-access policies (a blocked group is still blocked). Needs a
 * gateway created with `{ testing: true }`.
 */
export async function signedInAgent(app: TestedApp, gateway: Gateway, appId: string, user: TestSessionUser, options: AgentOptions = {}): Promise<TestingAgent> {
  const hooks = testingHooksOf(gateway, 'signedInAgent');
  const published = publishedApp(gateway, appId, 'signedInAgent');
  if (typeof user?.sub !== 'string' || user.sub === '') {
    throw new TestingError('ERR_INVALID_ARG_VALUE', 'signedInAgent: user.sub must be a non-empty string, e.g. { sub: "user-1", groups: ["staff"] }');
  }
  const cookie = await hooks.sessionCookie(appId, user);
  const agent = await agentFor(app, options.host ?? new URL(published.externalUrl).host);
  return agent.set('Cookie', cookie);
}

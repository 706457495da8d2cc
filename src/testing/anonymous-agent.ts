import type { Gateway } from '../gateway/create-gateway.ts';
import { agentFor, type TestedApp, type TestingAgent } from './load-supertest.ts';
import type { AgentOptions } from './signed-in-agent.ts';
import { publishedApp, testingHooksOf } from './testing-hooks.ts';

/**
 * A supertest agent for one published app without a session: its requests
 * carry the app's Host and meet the session gate as a stranger would (302 to
 * sign in for a navigation, 401 otherwise). Needs a gateway created with
 * `{ testing: true }`.
 */
export async function anonymousAgent(app: TestedApp, gateway: Gateway, appId: string, options: AgentOptions = {}): Promise<TestingAgent> {
  testingHooksOf(gateway, 'anonymousAgent');
  const published = publishedApp(gateway, appId, 'anonymousAgent');
  return agentFor(app, options.host ?? new URL(published.externalUrl).host);
}

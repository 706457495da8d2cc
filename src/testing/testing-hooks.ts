import type { AppConfig } from '../config/parse.ts';
import type { Gateway } from '../gateway/create-gateway.ts';
import { TESTING_HOOKS, type TestingHooks } from '../gateway/testing-hooks.ts';
import { TestingError } from './errors.ts';

/**
 * The gateway's test hooks, present only when it was created with
 * `{ testing: true }`: without them every helper refuses, so a production
 * gateway can never be driven by `gatehouse/testing` by accident.
 */
export function testingHooksOf(gateway: Gateway, helper: string): TestingHooks {
  const hooks = (gateway as Partial<Gateway> | null | undefined)?.[TESTING_HOOKS];
  if (!hooks) {
    throw new TestingError(
      'ERR_TESTING_DISABLED',
      `${helper}: this gateway was not created in test mode. Create the gateway your tests use with ` +
        'createGateway(config, { testing: true }) — never a production one.',
    );
  }
  return hooks;
}

/** The published app with this id, or a TypeError listing the ids there are. */
export function publishedApp(gateway: Gateway, appId: string, helper: string): AppConfig {
  const app = gateway.config.apps.find((candidate) => candidate.id === appId);
  if (!app) {
    const known = gateway.config.apps.map((candidate) => `"${candidate.id}"`).join(', ');
    throw new TestingError('ERR_INVALID_ARG_VALUE', `${helper}: the gateway publishes no app "${appId}" (it publishes ${known})`);
  }
  return app;
}

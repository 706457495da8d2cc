import type { Clock } from '../clock.ts';
import type { GatewayConfig } from '../config/parse.ts';
import type { Logger } from '../logging/logger.ts';
import type { SessionManager } from '../session/session-manager.ts';

/** What `gatehouse/testing` reaches through; present only on gateways created with `testing: true`. */
export const TESTING_HOOKS: unique symbol = Symbol.for('gatehouse.testing');

/** The user a test session is sealed for (`signedInAgent`), with the claims an ID token would have given. */
export interface TestSessionUser {
  readonly sub: string;
  readonly name?: string;
  readonly email?: string;
  readonly groups?: readonly string[];
  readonly amr?: readonly string[];
  readonly acr?: string;
  readonly claims?: Readonly<Record<string, unknown>>;
  /** Session lifetime, seconds. Default 1 hour. */
  readonly lifetime?: number;
}

export interface TestingHooks {
  /** A `name=value` Cookie header for a session of `user` on the app, sealed by the real session code. */
  sessionCookie(appId: string, user: TestSessionUser): Promise<string>;
}

/**
 * Test mode: lets tests mint sessions sealed with this gateway's real keys. Loud on purpose, in the log and as a
 * process warning, since a production gateway with it on would let anyone who can call it be anyone.
 */
export function createTestingHooks(config: GatewayConfig, sessions: SessionManager, clock: Clock, logger: Logger): TestingHooks {
  const message = "Gatehouse TEST MODE is on: tests can mint sessions with this gateway's keys. Never run a production gateway with { testing: true }.";
  logger.warn(message);
  process.emitWarning(message, { code: 'GATEHOUSE_TEST_MODE' });
  return {
    async sessionCookie(appId, user) {
      const app = config.apps.find((candidate) => candidate.id === appId);
      if (!app) throw new TypeError(`sessionCookie: no app "${appId}" in this gateway`);
      const now = Math.floor(clock() / 1000);
      const issued = await sessions.issue(app, {
        sub: user.sub,
        name: user.name,
        email: user.email,
        groups: user.groups ?? [],
        amr: user.amr ?? ['pwd'],
        acr: user.acr,
        authTime: now,
        idTokenExpiresAt: now + (user.lifetime ?? 3600),
        idToken: 'test-session-without-id-token',
        ...(user.claims ? { claims: user.claims } : {}),
      });
      return issued.setCookie.split(';')[0] ?? '';
    },
  };
}

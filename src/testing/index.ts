/**
 * `gatehouse/testing`: helpers for your own tests of an Express app that
 * mounts Gatehouse. Every helper needs a gateway created with
 * `{ testing: true }` (which prints a warning at start) and refuses any other
 * with ERR_TESTING_DISABLED. supertest is an optional peer dependency: install
 * it beside your tests. The exact list is pinned by
 * test/unit/structure/public-api.test.ts.
 */
export { signedInAgent } from './signed-in-agent.ts';
export type { AgentOptions } from './signed-in-agent.ts';
export { anonymousAgent } from './anonymous-agent.ts';
export type { TestedApp, TestingAgent } from './load-supertest.ts';
export { startThrowawayConnector } from './throwaway-connector.ts';
export type { ThrowawayConnector, ThrowawayConnectorOptions } from './throwaway-connector.ts';
export { startTestBackend } from './test-backend.ts';
export type { TestBackend, TestBackendOptions, TestBackendRequest } from './test-backend.ts';
export { TestingError } from './errors.ts';
export type { TestingErrorCode } from './errors.ts';
export type { TestSessionUser } from '../gateway/testing-hooks.ts';

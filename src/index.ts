export { createGateway } from './gateway.ts';
export type { Gateway, GatewayOptions, ForwarderFactoryContext } from './gateway.ts';
export { createGatewayServer } from './server.ts';
export type { GatewayServer } from './server.ts';
export { parseGatewayConfig } from './config/parse.ts';
export type { GatewayConfig, AppConfig, SessionSecret } from './config/parse.ts';
export { loadGatewayConfigFile } from './config/load-file.ts';
export type { GatewayConfigInput } from './config/schema.ts';
export { GatehouseError, GatehouseConfigError, ERROR_TABLE } from './errors.ts';
export type { GatehouseErrorCode, GatehouseStep } from './errors.ts';
export { robotsDenier, ROBOTS_TXT } from './robots/robots-denier.ts';
export { appResolution } from './middleware/app-resolution.ts';
export { requestContext } from './middleware/request-context.ts';
export { sessionGate } from './middleware/session-gate.ts';
export { oidcPreauth } from './middleware/oidc-preauth.ts';
export { createDirectForwarder } from './middleware/direct-forwarder.ts';
export type { Forwarder } from './middleware/direct-forwarder.ts';
export { wantsRedirect } from './middleware/wants-redirect.ts';
export { getIdentity, getRequestContext } from './middleware/context.ts';
export type { Identity, RequestContext } from './middleware/context.ts';
export * from './audit/index.ts';
export { createBuiltInRisk, combineRisk, safeRiskProvider } from './risk/index.ts';
export type { BuiltInRisk, RiskSettingsInput } from './risk/index.ts';
export { createPolicyEngine } from './policy/engine.ts';
export type {
  AccessDecision,
  AccessFacts,
  Policy,
  PolicyOutcome,
  RiskLevel,
  RiskProvider,
} from './policy/types.ts';
export { TESTING_HOOKS } from './gateway.ts';
export type { TestSessionUser, TestingHooks } from './gateway.ts';
export { MemorySessionStore } from './session/session-store.ts';
export type { SessionStore, SessionSideData } from './session/session-store.ts';
export type { Clock } from './clock.ts';

export { createPolicyEngine } from './engine.ts';
export type { PolicyEngine, PolicyEngineOptions } from './engine.ts';
export { RISK_LEVELS } from './types.ts';
export type * from './types.ts';

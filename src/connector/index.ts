/** `gatehouse/connector`: the on-premises connector's runtime. */
export { registerConnector } from './register.ts';
export type { RegisterOptions, RegistrationSummary } from './register.ts';
export { runConnector } from './supervisor.ts';
export type { RunConnectorOptions, ReconnectPolicy } from './supervisor.ts';
export { connectorStatus } from './status.ts';
export type { ConnectorStatus, ConnectorStatusOptions } from './status.ts';
export { formatConnectorStatus } from './status-format.ts';
export { obtainAdminTokenByDeviceLogin, fetchRegistrationInfo } from './device-login.ts';
export type { DeviceLoginOptions, RegistrationInfo } from './device-login.ts';
export { ConnectorConfigStore, parseConnectorConfig } from './config.ts';
export type { AllowedApp, AppliedConfig, ApplyResult } from './config.ts';
export type { ConnectorLink, LinkContext } from './link.ts';
export { ServiceClient } from './service-client.ts';
export type { ServiceClientOptions } from './service-client.ts';
export { ConnectorError, ConnectorArgumentError, isConnectorError } from './errors.ts';
export type { ConnectorErrorCode, ServiceErrorBody } from './errors.ts';
export { STATE_FILES } from './state.ts';
export type { ConnectorRecord } from './state.ts';

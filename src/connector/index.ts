/**
 * `gatehouse/connector`: the on-premises connector, for running it inside
 * your own process instead of the `gatehouse-connector` command. Register
 * once with an administrator's token, then run: the connector dials out to
 * the service and never listens. The exact list is pinned by
 * test/unit/structure/public-api.test.ts.
 */
export { registerConnector } from './register.ts';
export type { RegisterOptions, RegistrationSummary } from './register.ts';
export { runConnector } from './supervisor.ts';
export type { RunConnectorOptions, ReconnectPolicy } from './supervisor.ts';
export { ConnectorEvents } from './connector-events.ts';
export type { ConnectorEventMap } from './connector-events.ts';
export { connectorStatus } from './status.ts';
export type { ConnectorStatus, ConnectorStatusOptions } from './status.ts';
export { resolveProxySettings } from './proxy-settings.ts';
export type { OutboundProxySettings, ResolveProxyOptions } from './proxy-settings.ts';
export { ConnectorError, ConnectorArgumentError } from '../errors/connector-error.ts';
export type { ConnectorErrorCode } from '../errors/connector-codes.ts';

/**
 * Every failure Gatehouse reports, on every plane, has one stable code and
 * one row: the HTTP status, the step that failed, the sentence shown, whether
 * the detail may be shown, whether trying again can help. Internal detail
 * (the claim that failed, the library error) goes to the audit log and is
 * never shown to a browser's user.
 */
import { CONNECTOR_ERRORS, type ConnectorErrorCode } from './connector-codes.ts';
import { CONNECTOR_PLANE_ERRORS, type ConnectorPlaneErrorCode } from './connector-plane-codes.ts';
import { GATEWAY_ERRORS, type GatewayErrorCode } from './gateway-codes.ts';
import type { ErrorRow } from './row.ts';
import { TUNNEL_ERRORS, type TunnelErrorCode } from './tunnel-codes.ts';

/** The closed union of every code, whichever plane reports it. */
export type GatehouseErrorCode = GatewayErrorCode | ConnectorPlaneErrorCode | ConnectorErrorCode | TunnelErrorCode;

/** The codes the service answers HTTP with: the gateway's and the connector plane's. */
export type ServiceErrorCode = GatewayErrorCode | ConnectorPlaneErrorCode;

export const ERROR_TABLE: Readonly<Record<GatehouseErrorCode, ErrorRow>> = Object.freeze({
  ...GATEWAY_ERRORS,
  ...CONNECTOR_PLANE_ERRORS,
  ...CONNECTOR_ERRORS,
  ...TUNNEL_ERRORS,
});

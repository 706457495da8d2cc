/**
 * One error module for every plane: the table of codes (gateway, connector
 * plane, connector process, tunnel), the error classes that carry them, and
 * the renderers (render-user, render-connector-plane, render-raw), imported
 * from their own files.
 */
export { ERROR_TABLE } from './table.ts';
export type { GatehouseErrorCode, ServiceErrorCode } from './table.ts';
export type { ErrorRow, GatehouseStep } from './row.ts';
export { GatehouseConfigError, GatehouseError } from './gatehouse-error.ts';

/** The service's routes the connector calls (docs/connector-protocol.md). */
export const CONNECTOR_API = '/.gatehouse/connector';
export const REGISTRATION_INFO_PATH = `${CONNECTOR_API}/registration-info`;
export const REGISTER_PATH = `${CONNECTOR_API}/register`;
export const CONFIG_PATH = `${CONNECTOR_API}/config`;
export const EVENTS_PATH = `${CONNECTOR_API}/events`;
export const RENEW_PATH = `${CONNECTOR_API}/renew`;

/**
 * The HTTP routes of the connector plane, as both processes must spell them:
 * the service serves them (src/connector-plane/connector-routes.ts) and the connector
 * calls them. See docs/connector-protocol.md.
 */
export const CONNECTOR_API = '/.gatehouse/connector';
/** The ALPN protocol of these calls on the connector listener, which tells them from tunnels. */
export const CONNECTOR_API_ALPN = 'http/1.1';
export const REGISTRATION_INFO_PATH = `${CONNECTOR_API}/registration-info`;
export const REGISTER_PATH = `${CONNECTOR_API}/register`;
export const CONFIG_PATH = `${CONNECTOR_API}/config`;
export const EVENTS_PATH = `${CONNECTOR_API}/events`;
export const RENEW_PATH = `${CONNECTOR_API}/renew`;
/** The administrators' view of the connectors (list, revoke, move), with an admin token. */
export const ADMIN_CONNECTORS_PATH = '/.gatehouse/admin/connectors';
/** The administrators' view of the published apps: where, how, through which group, the policies in plain words. */
export const ADMIN_APPS_PATH = '/.gatehouse/admin/apps';
/** After an app's path (`${ADMIN_APPS_PATH}/<id>`): the policy engine's decision for facts the caller names (POST). */
export const ADMIN_WHAT_IF_SUFFIX = '/what-if';
/** Per connector group, what is online and how busy; certificates expiring soon; readiness. */
export const ADMIN_OVERVIEW_PATH = '/.gatehouse/admin/overview';

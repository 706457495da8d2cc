/** Where the console's pages and actions are, on the admin listener. */
export const CONSOLE_ROOT = '/.gatehouse/admin/';
export const CONSOLE_SIGNIN = '/.gatehouse/admin/signin';
export const CONSOLE_CALLBACK = '/.gatehouse/admin/callback';
export const CONSOLE_SIGNOUT = '/.gatehouse/admin/signout';
export const CONSOLE_CSS = '/.gatehouse/admin/console.css';
export const CONSOLE_CONNECTORS = '/.gatehouse/admin/connectors';
export const CONSOLE_CONFIRM = '/.gatehouse/admin/connectors/confirm';
export const CONSOLE_REVOKE = '/.gatehouse/admin/connectors/revoke';
export const CONSOLE_MOVE = '/.gatehouse/admin/connectors/move';
export const CONSOLE_APPS = '/.gatehouse/admin/apps';
export const CONSOLE_EVENTS = '/.gatehouse/admin/events';

/**
 * Names the gateway's configuration, the tunnel and the connector's
 * configuration document must agree on, defined once.
 */

/** An app id: 1-63 lowercase letters, digits or dashes, starting with a letter or digit (it is a DNS label in tunnel authorities). */
export const APP_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** A connector group: 1-64 letters, digits, dots, dashes or underscores. */
export const CONNECTOR_GROUP_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

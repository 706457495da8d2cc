/**
 * The connector's bounds and waits. They belong in src/limits.ts beside the
 * service's; they live here until that file takes them. Loosening one is a
 * security or stability change: say why.
 */

/** Each REST call to the service, from dialling to the last byte of the answer. */
export const SERVICE_REQUEST_TIMEOUT_MS = 15_000;

/** Opening the events stream, until the response headers arrive. */
export const EVENTS_CONNECT_TIMEOUT_MS = 15_000;

/** The protocol caps every JSON body at 64 KiB; an answer larger than this is refused. */
export const MAX_SERVICE_BODY_BYTES = 64 * 1024;

/** One line of the events stream; a longer one ends the stream. */
export const MAX_EVENT_LINE_BYTES = 16 * 1024;

/** Heartbeat interval assumed until the first configuration says otherwise. */
export const DEFAULT_HEARTBEAT_SECONDS = 30;

/** The events stream is declared dead after this many heartbeat intervals of silence. */
export const HEARTBEAT_MISSES_BEFORE_DEAD = 3;

/** Reconnect backoff: full jitter in [0, min(cap, base * 2^attempt)) (field lesson 21). */
export const RECONNECT_BASE_MS = 500;
export const RECONNECT_CAP_MS = 30_000;

/** A connection that stayed up this long resets the backoff. */
export const STABLE_CONNECTION_MS = 60_000;

/** The configuration is pulled again at least this often, in case an event was lost. */
export const CONFIG_REFRESH_INTERVAL_MS = 60 * 60 * 1000;

/** Retries of a failed renewal start here and back off to the reconnect cap. */
export const RENEWAL_RETRY_BASE_MS = 5_000;

/** Device login prints a "still waiting" line this often. */
export const DEVICE_LOGIN_PROGRESS_INTERVAL_MS = 5_000;

/** A state file larger than this is not ours. */
export const MAX_STATE_FILE_BYTES = 256 * 1024;

/** A CA bundle given on the command line larger than this is refused. */
export const MAX_CA_FILE_BYTES = 1024 * 1024;

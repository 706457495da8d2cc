/**
 * Every bound Gatehouse enforces, in one place. Loosening one of these is a
 * security change: say why in the commit.
 */

/** A browser drops a cookie whose Set-Cookie line is larger than this (RFC 6265bis §5.6). */
export const MAX_SET_COOKIE_BYTES = 4096;

/** The Cookie header we accept; larger ones are refused with 431 before anything is parsed. */
export const MAX_COOKIE_HEADER_BYTES = 16 * 1024;

/** Node's own limit on all request headers, set on servers we create. */
export const MAX_REQUEST_HEADER_BYTES = 32 * 1024;

/** How long a sign-in attempt (its transaction cookie) lives. */
export const SIGNIN_ATTEMPT_TTL_SECONDS = 10 * 60;

/** Sign-in attempts kept per browser; older ones are evicted so cookies never pile up to a 431. */
export const MAX_LIVE_SIGNIN_ATTEMPTS = 6;

/** A return URL longer than this is refused. */
export const MAX_RETURN_URL_LENGTH = 2048;

/** Callbacks completed within this window without the session cookie coming back count as a loop. */
export const SIGNIN_LOOP_WINDOW_SECONDS = 30;

/** Completed sign-ins within the loop window before the loop page is shown instead of a redirect. */
export const SIGNIN_LOOP_THRESHOLD = 2;

/** Default and maximum tolerance for clock differences with the identity provider. */
export const DEFAULT_CLOCK_TOLERANCE_SECONDS = 30;
export const MAX_CLOCK_TOLERANCE_SECONDS = 300;

/** Timeout of each HTTP call to the identity provider (discovery, JWKS, token endpoint). */
export const IDP_REQUEST_TIMEOUT_SECONDS = 10;

/** After a failed discovery, wait this long before asking the identity provider again. */
export const IDP_DISCOVERY_RETRY_MS = 5_000;

/** Revoked session ids remembered (until each would have expired). */
export const MAX_REVOKED_SESSIONS = 100_000;

/** Server-side session data (oversized claims, ID tokens for logout) kept in memory. */
export const MAX_SESSION_SIDE_ENTRIES = 50_000;

/** Sign-in states already used, remembered until their attempt would have expired. */
export const MAX_USED_SIGNIN_STATES = 50_000;

/** A session's last-seen time is refreshed in its cookie at most this often. */
export const SESSION_TOUCH_INTERVAL_SECONDS = 60;

/** Minimum length of a session secret. */
export const MIN_SECRET_LENGTH = 32;

/** User-agent strings are cut to this length before they reach the audit log. */
export const MAX_AUDIT_USER_AGENT = 256;

/** Node server timeouts set on servers Gatehouse creates (field lesson 16). */
export const SERVER_HEADERS_TIMEOUT_MS = 20_000;
export const SERVER_REQUEST_TIMEOUT_MS = 0; // per-app idle timeouts govern bodies; see README
export const SERVER_KEEP_ALIVE_TIMEOUT_MS = 65_000;

/** Default backend timeouts: the reference service's "default" and "long". */
export const BACKEND_TIMEOUT_DEFAULT_SECONDS = 85;
export const BACKEND_TIMEOUT_LONG_SECONDS = 180;

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

/** The loop cookie's count stops here; a larger one is refused as not ours. */
export const SIGNIN_LOOP_MAX_COUNT = 10;

/** Default and maximum tolerance for clock differences with the identity provider. */
export const DEFAULT_CLOCK_TOLERANCE_SECONDS = 30;
export const MAX_CLOCK_TOLERANCE_SECONDS = 300;

/** Timeout of each HTTP call to the identity provider (discovery, JWKS, token endpoint). */
export const IDP_REQUEST_TIMEOUT_SECONDS = 10;

/**
 * The groups endpoint (identityProvider.groupsEndpoint, asked on group
 * overage) is followed through at most this many pages, and a user's list
 * may hold at most this many groups: past either, the sign-in fails closed,
 * since a cut-off list would answer group policies as wrongly as none.
 */
export const GROUPS_ENDPOINT_MAX_PAGES = 20;
/** As many as a session record holds (src/session/session-record.ts), each group id up to 256 characters. */
export const GROUPS_ENDPOINT_MAX_GROUPS = 1_000;
/** Each page of the groups endpoint's answer is read up to this many bytes. */
export const GROUPS_ENDPOINT_MAX_PAGE_BYTES = 1024 * 1024;

/**
 * identityProvider.authorizationParams: at most this many extra parameters, names of at most this many characters and
 * values of at most this many. Providers need one or two; the authorization URL travels through the browser's address
 * bar and the provider's request line, which both have limits of their own.
 */
export const MAX_AUTHORIZATION_PARAMS = 20;
export const MAX_AUTHORIZATION_PARAM_NAME_CHARS = 64;
export const MAX_AUTHORIZATION_PARAM_VALUE_CHARS = 512;

/** After a failed discovery, wait this long before asking the identity provider again. */
export const IDP_DISCOVERY_RETRY_MS = 5_000;

/**
 * A token signed with a key the gateway has not seen (the provider rotated)
 * fetches the provider's JWKS again at once, but no more often than this: a
 * flood of tokens naming made-up keys costs the provider one fetch per interval.
 */
export const IDP_JWKS_REFETCH_MIN_INTERVAL_MS = 5_000;

/** The provider's JWKS is fetched again after this long even when every key is known. */
export const IDP_JWKS_MAX_AGE_MS = 10 * 60_000;

/** The longest access token accepted in `Authorization: Bearer`: far above any provider's, far below the header limit. */
export const MAX_BEARER_TOKEN_BYTES = 8 * 1024;

/** A back-channel logout token issued longer ago than this (or this far in the future) is refused. */
export const LOGOUT_TOKEN_MAX_AGE_SECONDS = 300;

/** The largest back-channel logout request body read (a form with one signed token). */
export const MAX_LOGOUT_TOKEN_BODY_BYTES = 16 * 1024;

/**
 * How long a back-channel logout's revocation is kept, at least: sessions
 * tied to that provider session cannot live longer (the default session
 * lifetime counts too, when it is longer).
 */
export const IDP_LOGOUT_REVOCATION_SECONDS = 30 * 24 * 3600;

/** Revoked session ids remembered (until each would have expired). */
export const MAX_REVOKED_SESSIONS = 100_000;

/**
 * Server-side session data (oversized claims, ID tokens for logout): entries,
 * and their approximate size (the same on disk as in memory). Live entries are never
 * evicted; when either bound is reached a sign-in that needs server-side
 * claims is refused (ERR_SESSION_STORE_FULL).
 */
export const MAX_SESSION_SIDE_ENTRIES = 50_000;
export const MAX_SESSION_SIDE_BYTES = 128 * 1024 * 1024;

/** Sign-in states already used, remembered until their attempt would have expired. */
export const MAX_USED_SIGNIN_STATES = 50_000;

/**
 * Expired rows the SQLite session store deletes from a table on each write to
 * it: writes outnumber expiries, so the tables stay near their live size
 * without a timer, and no single write pays for a long sweep.
 */
export const SESSION_STORE_PURGE_BATCH = 64;

/** A session's last-seen time is refreshed in its cookie at most this often. */
export const SESSION_TOUCH_INTERVAL_SECONDS = 60;

/**
 * With session.refresh, a session's ID token is refreshed once less than this
 * much of it is left, or less than SESSION_REFRESH_MARGIN_FRACTION of its
 * lifetime, whichever is shorter (a short-lived token is not refreshed at once).
 */
export const SESSION_REFRESH_MARGIN_SECONDS = 5 * 60;
export const SESSION_REFRESH_MARGIN_FRACTION = 0.1;

/**
 * How long one instance holds the right to spend a session's refresh token:
 * the others leave it alone meanwhile (a rotating token spent twice would end
 * the session). Longer than a token request can take (identityProvider.timeoutSeconds caps it).
 */
export const SESSION_REFRESH_LOCK_SECONDS = 30;

/** How often a request whose ID token has expired looks for the refresh another instance is doing. */
export const SESSION_REFRESH_POLL_MS = 200;

/**
 * A refreshed state the store did not take at once is written again after
 * each of these delays (milliseconds) before the request is answered, then in
 * the background from the instance's memory until this many seconds before
 * its refresh lease ends; then the session ends rather than let another
 * instance spend a refresh token the provider may have rotated.
 */
export const SESSION_REFRESH_WRITE_RETRY_MS: readonly number[] = [100, 400];
export const SESSION_REFRESH_WRITE_MARGIN_SECONDS = 5;

/**
 * After a refresh failed for a reason that may pass (provider or store out of
 * reach), the instance holding the lease asks the provider again no sooner
 * than this; meanwhile a request whose ID token has expired gets 503 with this Retry-After.
 */
export const SESSION_REFRESH_RETRY_SECONDS = 5;

/**
 * How long a request whose ID token has expired waits at most for another
 * holder's refresh (polling the store and trying to take the lease once it
 * ran out) before it gets 503 with Retry-After: a request does not hang for a whole lease.
 */
export const SESSION_REFRESH_WAIT_SECONDS = 10;

/** Refreshed states held in memory until the store takes them, and sessions ended because it never did (each, per instance). */
export const MAX_REFRESH_UNSAVED_ENTRIES = 10_000;

/**
 * Sessions whose cookie was re-sealed recently, and when: one stale cookie
 * sent again and again is re-sealed once per touch interval, not once per
 * request. It is also each session's last activity for its WebSockets' idle
 * check; a session pushed out of it counts from its cookie's last-seen time
 * (its sockets may close early, never late).
 */
export const MAX_SESSION_TOUCH_ENTRIES = 100_000;

/** Open WebSockets are checked this often: session still valid (not revoked, expired or idle) and policy still allowing. */
export const SOCKET_RECHECK_INTERVAL_MS = 30_000;

/** Minimum length of a session secret. */
export const MIN_SECRET_LENGTH = 32;

/** User-agent strings are cut to this length before they reach the audit log. */
export const MAX_AUDIT_USER_AGENT = 256;

/**
 * Repeats of one anonymous event (type, code, reason, app, client address or
 * IPv6 /64) written per window; the rest are counted into one `audit.suppressed`
 * event when the window closes. Keys tracked at once are bounded.
 */
export const AUDIT_REPEAT_WINDOW_MS = 60_000;
export const AUDIT_REPEATS_PER_WINDOW = 20;
export const AUDIT_REPEAT_KEYS = 10_000;
/**
 * Distinct keys (code, reason, app) one source may open per event type in a
 * window; further ones are counted together under one key, since some reasons
 * carry a word the client chose and would otherwise open a key per request.
 */
export const AUDIT_REPEAT_REASONS_PER_SOURCE = 8;

/**
 * Requests per second per client address (an IPv6 /64 counts as one) with no session or access token, as token
 * buckets of `perSecond` and `burst` (`limits.rate`): anonymous requests in general, and stricter for the sign-in
 * endpoints and the connector listener's registration and admin API, whose every call costs a seal, a token check
 * or a certificate.
 */
export const RATE_ANONYMOUS_PER_SECOND = 50;
export const RATE_ANONYMOUS_BURST = 200;
export const RATE_SIGNIN_PER_SECOND = 10;
export const RATE_SIGNIN_BURST = 50;
export const RATE_CALLBACK_PER_SECOND = 10;
export const RATE_CALLBACK_BURST = 50;
/** Posted by the identity provider's servers, a few addresses that may end many sessions at once. */
export const RATE_BACKCHANNEL_LOGOUT_PER_SECOND = 20;
export const RATE_BACKCHANNEL_LOGOUT_BURST = 200;
export const RATE_CONNECTOR_REGISTER_PER_SECOND = 1;
export const RATE_CONNECTOR_REGISTER_BURST = 20;
export const RATE_CONNECTOR_ADMIN_PER_SECOND = 5;
export const RATE_CONNECTOR_ADMIN_BURST = 50;
/** Buckets one instance keeps, all limits together (`limits.rate.maxClients`, about 250 bytes each); past it the idlest is evicted, counted. */
export const RATE_LIMIT_MAX_CLIENTS = 100_000;
/** With Redis, how often each instance adds what it let through to the shared buckets and reads them back. */
export const RATE_LIMIT_SYNC_INTERVAL_MS = 100;
/** Buckets one sync sends at most; the rest wait for the next one (a flood of new addresses costs bounded work per sync). */
export const RATE_LIMIT_SYNC_BATCH = 2_000;

/** Node server timeouts set on servers Gatehouse creates. */
export const SERVER_HEADERS_TIMEOUT_MS = 20_000;
/**
 * Node's whole-request deadline stays off: it would cut an honest large upload on a slow link as surely as a trickle.
 * Request bodies are held to a data rate instead (`limits.body`, below); docs/reliability.md, "Slow clients", says why.
 */
export const SERVER_REQUEST_TIMEOUT_MS = 0;
export const SERVER_KEEP_ALIVE_TIMEOUT_MS = 65_000;
/**
 * How often Node looks for requests whose headers are late (its default is 30 s, so a slow sender of headers would
 * hold its connection up to headersTimeout + 30 s). The check walks the open connections: cheap at this interval.
 */
export const SERVER_CONNECTIONS_CHECK_INTERVAL_MS = 1_000;
/**
 * Request bodies on the public listener (`limits.body`): once `grace` has passed, the body must have arrived at
 * `minRate` bytes per second at least, averaged over the last `window`; and the whole body within `timeout`. Time the
 * gateway itself is not reading (its consumer is behind) does not count against the client. A slow body gets 408 and
 * the connection is closed; a request being forwarded ends its upstream request (and tunnel stream) with it.
 */
export const BODY_MIN_RATE_BYTES_PER_SECOND = 1024;
export const BODY_RATE_WINDOW_SECONDS = 20;
export const BODY_RATE_GRACE_SECONDS = 20;
export const BODY_TIMEOUT_SECONDS = 3600;
/** How often request bodies being received are looked at; a slow one is cut within this much of its deadline. */
export const BODY_WATCH_TICK_MS = 250;
/** After the 408 of a slow body, the client has this long to read it before the connection is cut. */
export const BODY_CUT_CLOSE_MS = 2_000;
/**
 * Connections open at once from one peer address on the public listener (`limits.connections.perIp`; an IPv6 /64
 * is one address). The peer is the socket's: behind a load balancer that is the balancer. Counted per instance.
 * Past it, a new connection gets a bare 503 with Retry-After (a TLS one is closed before its handshake).
 */
export const CONNECTIONS_PER_IP = 256;
export const CONNECTION_CAP_RETRY_AFTER_SECONDS = 5;
/**
 * An answer sent before the request body arrived, and a refused upgrade, close the connection lingering first: what
 * the client still sends is read and dropped, so it reads the answer instead of a reset, up to these many bytes or this long.
 */
export const UNREAD_BODY_LINGER_MS = 5_000;
export const UNREAD_BODY_LINGER_BYTES = 8 * 1024 * 1024;

/** How long the gateway waits on a silent backend: `apps[].timeouts.backend` `default` and `long` (apps that compute long answers). */
export const BACKEND_TIMEOUT_DEFAULT_SECONDS = 85;
export const BACKEND_TIMEOUT_LONG_SECONDS = 180;

/** A PKCS#10 request larger than this is refused before it is parsed. */
export const MAX_CSR_PEM_BYTES = 16 * 1024;

/** RSA key sizes accepted in a connector's certificate request. */
export const MIN_CSR_RSA_BITS = 2048;
export const MAX_CSR_RSA_BITS = 8192;

/** Nesting depth the ASN.1 parser follows in a request or certificate; real ones stay under 10. */
export const MAX_PKI_ASN1_DEPTH = 32;

/** A client certificate (PEM or DER) larger than this is refused before it is parsed. */
export const MAX_CLIENT_CERT_BYTES = 16 * 1024;

/** Certificates start this far in the past, so a peer whose clock lags ours still accepts them. */
export const CERT_BACKDATE_MS = 5 * 60 * 1000;

/** Lifetime of a connector CA made on first start. */
export const DEFAULT_CONNECTOR_CA_VALID_DAYS = 3650;

/** Store keys longer than this are refused: each becomes a file name (255 bytes on most file systems). */
export const MAX_STORE_KEY_LENGTH = 200;

/** A stored value larger than this is refused; values are read whole into memory. */
export const MAX_STORE_VALUE_BYTES = 8 * 1024 * 1024;

/** A Redis command that has not answered by then fails: a hung store must not hang requests. */
export const REDIS_COMMAND_TIMEOUT_MS = 2_000;

/** Connecting to Redis (TCP, TLS, AUTH) gives up after this and retries with backoff. */
export const REDIS_CONNECT_TIMEOUT_MS = 3_000;

/** The longest wait between two reconnection attempts to Redis. */
export const REDIS_RECONNECT_CAP_MS = 2_000;

/**
 * How long session checks keep answering from an instance's local copy of the
 * revocations after it lost Redis (revocations made meanwhile on other
 * instances may be missing from it). After this, sessions are refused with
 * 503 ERR_STORE_UNAVAILABLE until Redis answers and the copy is reloaded.
 */
export const STORE_OUTAGE_GRACE_MS = 60_000;

/**
 * Server-side session data (long group lists) read from Redis is kept in the
 * instance this long and for at most this many sessions, so that a session
 * using it does not cost a Redis round trip per request. It never changes
 * during a session; a revocation removes it at once on every instance.
 */
export const REDIS_SIDE_DATA_CACHE_SECONDS = 3_600;
export const REDIS_SIDE_DATA_CACHE_ENTRIES = 20_000;

/** How often an instance checks that its Redis subscription is up (and retries a reload or pending writes when it is back). */
export const STORE_OUTAGE_CHECK_INTERVAL_MS = 500;

/** The connector listener: small requests only (registration, config, renewal). */
export const CONNECTOR_LISTENER_MAX_HEADER_BYTES = 16 * 1024;
export const CONNECTOR_LISTENER_HEADERS_TIMEOUT_MS = 15_000;
export const CONNECTOR_LISTENER_REQUEST_TIMEOUT_MS = 30_000;
export const CONNECTOR_BODY_LIMIT_BYTES = 64 * 1024;

/** Session cookies that unsealed successfully, remembered by digest (a few hundred bytes each). */
export const MAX_UNSEAL_CACHE_ENTRIES = 20_000;

/** Signed identity assertions cached per session and app. */
export const MAX_ASSERTION_CACHE_ENTRIES = 50_000;

/**
 * Each instance reads the identity assertion key ring from the store again
 * this often (on the next request or JWKS fetch after it), so a ring another
 * instance rotated is served everywhere within a minute. Which key signs never
 * waits for it: the ring carries when `next` takes over.
 */
export const ASSERTION_KEY_RING_RELOAD_MS = 60_000;

/**
 * A retired assertion key stays in the JWKS for one assertion lifetime after
 * it stopped signing, plus this much for clocks of instances and verifiers
 * that disagree by a little.
 */
export const ASSERTION_KEY_RETIRE_MARGIN_SECONDS = 60;

/**
 * The shortest identityAssertion.rotation: a new `next` must reach every
 * instance (one ring reload) and every verifier's cached JWKS (served with
 * max-age 300) long before it signs; it must also outlast one assertion
 * lifetime, as the ring keeps only one retired key.
 */
export const MIN_ASSERTION_KEY_ROTATION_SECONDS = 3600;

/**
 * Group lists longer than this (as JSON) are left out of the identity
 * assertion and identity headers rather than truncated, so a backend never
 * authorizes on a partial list and never answers 431 to a huge header.
 */
export const MAX_FORWARDED_GROUPS_BYTES = 2048;

/**
 * Request header names whose forwarding verdict is remembered per gateway.
 * Past this many distinct names (a client inventing names), verdicts are
 * still computed, just not kept: memory stays bounded.
 */
export const MAX_REMEMBERED_HEADER_NAMES = 512;

/**
 * The tunnel (docs/tunnel-protocol.md). HTTP/2 windows and frames: 8 MiB per
 * stream, 16 MiB per connection and 1 MiB frames measured better than the
 * 64 KiB defaults for bulk transfers (docs/design-notes.md says why not more).
 */
export const TUNNEL_STREAM_WINDOW_BYTES = 8 * 1024 * 1024;
export const TUNNEL_CONNECTION_WINDOW_BYTES = 16 * 1024 * 1024;
/**
 * What the streams of one tunnel in use may hold unread at the service, all
 * together: a stream whose reader stopped (a client that stopped reading a
 * download) holds what its window let through. Windows shrink as streams go
 * into use so that their sum stays within this (src/tunnel/stream-windows.ts),
 * down to TUNNEL_MIN_STREAM_WINDOW_BYTES each.
 */
export const TUNNEL_STREAM_BUFFER_BYTES = 16 * 1024 * 1024;
/**
 * The same at the connector, for uploads its apps stopped reading. The connector counts every open stream, idle
 * keep-alive ones included (it does not parse HTTP, so it cannot tell them apart): a larger budget keeps 1 MiB
 * windows, what a bulk transfer needs for full speed on loopback, with 64 streams open.
 */
export const TUNNEL_CONNECTOR_STREAM_BUFFER_BYTES = 64 * 1024 * 1024;
export const TUNNEL_MIN_STREAM_WINDOW_BYTES = 16 * 1024;
/**
 * How long the count of streams must have stayed low before their window grows again. Requests come and go in
 * batches: at 16 connections a tunnel's count of streams in use swung past a step about a thousand times a second,
 * each swing a SETTINGS frame, its acknowledgement and every open stream's window adjusted at both ends. Shrinking
 * stays immediate (it bounds memory); growing late costs nothing measurable (a lone transfer runs at full speed on
 * 1 MiB windows).
 */
export const TUNNEL_WINDOW_GROW_DELAY_MS = 1000;
/** SETTINGS frames a tunnel's session may have sent and not seen acknowledged (Node's `maxOutstandingSettings`; its default is 10). */
export const TUNNEL_MAX_OUTSTANDING_SETTINGS = 32;
export const TUNNEL_MAX_FRAME_BYTES = 1024 * 1024;
/** A CONNECT carries four short headers; its answer two. */
export const TUNNEL_MAX_HEADER_LIST_BYTES = 8 * 1024;
export const TUNNEL_MAX_HEADER_PAIRS = 32;
/** Concurrent streams (backend connections, idle keep-alive ones included) on one tunnel. */
export const TUNNEL_MAX_STREAMS = 1000;
/**
 * Requests that wait for a free stream when every tunnel of a connector group is at its limit
 * (`connectors.tunnels.queue.maxLength`, `maxWait`), and the `Retry-After` of a refused one.
 */
export const TUNNEL_QUEUE_MAX_LENGTH = 1000;
export const TUNNEL_QUEUE_MAX_WAIT_SECONDS = 10;
export const TUNNEL_QUEUE_RETRY_AFTER_SECONDS = 5;
/** Upper bounds of the queue wait histogram, in seconds: up to the longest `maxWait` allowed. */
export const TUNNEL_QUEUE_WAIT_BUCKETS: readonly number[] = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
/**
 * The share of a connector group's streams one app may hold when the group serves more than one app
 * (`limits.streams.appShare`, `apps[].limits.streams`), so that one app (a pass-through app's anonymous crowd
 * included) cannot take the streams another app needs. The same share bounds the app's place in the group's queue.
 */
export const APP_STREAM_SHARE_PERCENT = 50;
/**
 * WebSockets open at once per session and per client address (an IPv6 /64 counts as one): on every instance together with Redis, else on this one
 * (`limits.streams.websocketsPerSession`, `websocketsPerIp`). Per address is generous: one office behind NAT is one address.
 */
export const WEBSOCKETS_PER_SESSION = 32;
export const WEBSOCKETS_PER_IP = 500;
/** The `Retry-After` of an upgrade refused for too many WebSockets: a slot frees when one of them closes. */
export const WEBSOCKET_CAP_RETRY_AFTER_SECONDS = 10;
/**
 * With Redis, each open WebSocket holds a lease there, so the caps hold over every instance: renewed this often,
 * valid this long (a few renewals), so an instance that dies without closing its leases stops counting within one
 * lease. An upgrade waits at most WEBSOCKET_LEASE_TIMEOUT_MS for Redis, then is decided by this instance's counts.
 */
export const WEBSOCKET_LEASE_RENEW_INTERVAL_MS = 10_000;
export const WEBSOCKET_LEASE_MS = 30_000;
export const WEBSOCKET_LEASE_TIMEOUT_MS = 500;
/**
 * A WebSocket with no byte either way for this long (pings count) is closed with 1001
 * (`limits.streams.websocketIdleTimeout`, `apps[].limits.websocketIdleTimeout`): an idle socket still holds a tunnel stream.
 */
export const WEBSOCKET_IDLE_TIMEOUT_SECONDS = 600;
/** After the idle close frame, the client has this long to answer before the connection is cut. */
export const WEBSOCKET_IDLE_CLOSE_GRACE_MS = 2000;
/** nghttp2 memory a tunnel session may hold, in MiB (Node's `maxSessionMemory`). */
export const TUNNEL_MAX_SESSION_MEMORY_MB = 128;
/** PING every this often; a PING unanswered this long marks the tunnel dead. */
export const TUNNEL_PING_INTERVAL_MS = 10_000;
export const TUNNEL_PING_TIMEOUT_MS = 10_000;
/** The service waits this long for a connector to answer a CONNECT. */
export const TUNNEL_OPEN_TIMEOUT_MS = 15_000;
/** The connector's TCP (and TLS) connect to an app. */
export const TUNNEL_ORIGIN_CONNECT_TIMEOUT_MS = 10_000;
/** Tunnels tried for one request when the earlier ones failed before any byte went upstream. */
export const TUNNEL_OPEN_ATTEMPTS = 3;
/** Drain: in-flight streams get this long after GOAWAY before the tunnel is cut. */
export const TUNNEL_DRAIN_TIMEOUT_MS = 30_000;
/**
 * Graceful shutdown (`server.shutdownTimeout`): requests and WebSockets in
 * flight when the server stops get this long to finish before what is left is cut.
 */
export const SERVER_SHUTDOWN_TIMEOUT_MS = 30_000;
/** When the service itself stops: in-flight streams get this long, so that stopping never waits on a slow download. */
export const TUNNEL_DRAIN_ON_CLOSE_MS = 1000;
/** Idle keep-alive streams per app, and how long one stays idle (under Node's 5 s server keep-alive). */
export const TUNNEL_AGENT_MAX_FREE_STREAMS = 64;
export const TUNNEL_AGENT_FREE_STREAM_TIMEOUT_MS = 4_000;
/** The connector's dial: TCP, TLS and (WebSocket fallback) the upgrade. */
export const TUNNEL_DIAL_TIMEOUT_MS = 15_000;
/** WebSocket fallback: largest message (one HTTP/2 write: a frame of at most TUNNEL_MAX_FRAME_BYTES, or a batch of small frames), ping interval. */
export const TUNNEL_WEBSOCKET_MAX_PAYLOAD_BYTES = 4 * 1024 * 1024;
export const TUNNEL_WEBSOCKET_PING_INTERVAL_MS = 15_000;
/** A refused WebSocket upgrade's answer body is read up to this size, for the error message. */
export const TUNNEL_WEBSOCKET_REFUSAL_BODY_BYTES = 16 * 1024;

/* ---- The connector (gatehouse-connector) ---- */

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

/** Reconnect backoff: full jitter in [0, min(cap, base * 2^attempt)). */
export const RECONNECT_BASE_MS = 500;
export const RECONNECT_CAP_MS = 30_000;

/** A connection that stayed up this long resets the backoff. */
export const STABLE_CONNECTION_MS = 60_000;

/** The configuration is pulled again at least this often, in case an event was lost. */
export const CONFIG_REFRESH_INTERVAL_MS = 60 * 60 * 1000;

/** Retries of a failed renewal start here and back off to the reconnect cap. */
export const RENEWAL_RETRY_BASE_MS = 5_000;

/** Device login without a terminal (a log, a pipe) prints a "still waiting" line this often. */
export const DEVICE_LOGIN_PROGRESS_INTERVAL_MS = 60_000;

/**
 * An introspected admin token's answer (active or not) is reused this long, so
 * that a burst of admin calls does not become a burst of calls to the identity
 * provider; a revoked token may therefore still work this long.
 */
export const ADMIN_INTROSPECTION_CACHE_MS = 30_000;

/** At most this many introspection answers are kept. */
export const ADMIN_INTROSPECTION_CACHE_ENTRIES = 1_000;

/** On a terminal, device login redraws its one "time left" line this often. */
export const DEVICE_LOGIN_TTY_REFRESH_MS = 1_000;

/** A state file larger than this is not ours. */
export const MAX_STATE_FILE_BYTES = 256 * 1024;

/** A CA bundle given on the command line larger than this is refused. */
export const MAX_CA_FILE_BYTES = 1024 * 1024;

/**
 * Gateway instances sharing a store record themselves (their connector URL)
 * this often, and count as gone when not heard from for INSTANCE_TTL_MS: then
 * connectors drop their tunnels to it. Connectors learn of a change at once
 * through their events stream.
 */
export const INSTANCE_HEARTBEAT_MS = 3_000;
export const INSTANCE_TTL_MS = 10_000;

/** Tunnels each connector keeps open to the service (to each instance, when several share the store). */
export const TUNNELS_PER_CONNECTOR = 2;
export const MAX_TUNNELS_PER_CONNECTOR = 16;
/**
 * Capacity on demand: when a group's streams in flight (with its queue) reach the high-water share of its capacity,
 * each of its connectors is asked for one more tunnel, at most one ask per raise interval, up to
 * `connectors.tunnels.maxPerConnector`; below the low-water share for `scaleDownAfter`, they go back to their own count.
 */
export const TUNNEL_DEMAND_HIGH_WATER = 0.75;
export const TUNNEL_DEMAND_LOW_WATER = 0.25;
export const TUNNEL_DEMAND_RAISE_INTERVAL_MS = 2_000;
export const TUNNEL_DEMAND_CHECK_INTERVAL_MS = 500;
export const TUNNEL_DEMAND_MAX_PER_CONNECTOR = 8;
export const TUNNEL_DEMAND_SCALE_DOWN_SECONDS = 60;

/** Entries in a connector's local allow-list (`--allow`), and the length of one. */
export const MAX_ALLOW_LIST_ENTRIES = 1000;
export const MAX_ALLOW_ENTRY_LENGTH = 300;

/**
 * What the connector's end of a tunnel may queue for its transport while its
 * HTTP/2 session goes on reading (src/connector/write-ahead.ts,
 * WriteAhead): above the connection window plus control frames, so that flow
 * control, not this bound, limits it and the tunnel never deadlocks.
 */
export const TUNNEL_CONNECTOR_WRITE_AHEAD_BYTES = TUNNEL_CONNECTION_WINDOW_BYTES + 16 * 1024 * 1024;
/** What a tunnel's end reads from its transport and holds while its HTTP/2 session is not reading, to hand over in one chunk. */
export const TUNNEL_READ_BATCH_BYTES = 1024 * 1024;

/* ---- Built-in risk (src/risk/) ---- */

/** Users whose failed sign-ins, and users whose network history, are remembered; the least recently active are forgotten first. */
export const RISK_MAX_TRACKED_USERS = 100_000;

/** Client addresses (IPv4 addresses, IPv6 /64s) whose failed sign-ins are remembered; the least recently failing are forgotten first. */
export const RISK_MAX_TRACKED_ADDRESSES = 100_000;

/** Networks remembered per user; the least recently used is forgotten first. */
export const RISK_MAX_NETWORKS_PER_USER = 20;

/** Largest failed-sign-in threshold; each key keeps at most this many timestamps. */
export const RISK_MAX_FAILURE_THRESHOLD = 1_000;

/** Longest sliding window a risk signal may look back over. */
export const RISK_MAX_WINDOW_SECONDS = 7 * 86_400;

/** Longest time a user's network is remembered without being used again. */
export const RISK_MAX_NETWORK_MEMORY_SECONDS = 366 * 86_400;

/** A custom risk provider answers within this, or its `onError` level is used (it runs on every request). */
export const RISK_PROVIDER_TIMEOUT_MS = 2_000;
export const RISK_PROVIDER_MAX_TIMEOUT_MS = 10_000;

/* ---- Audit sinks and queries (src/audit/) ---- */

/** Bytes a file sink may hold in memory while the disk catches up; events beyond are dropped and counted. */
export const AUDIT_FILE_MAX_BACKLOG_BYTES = 8 * 1024 * 1024;

/** Webhook sink: events per POST, and how long a partial batch waits for company. */
export const AUDIT_WEBHOOK_BATCH_SIZE = 100;
export const AUDIT_WEBHOOK_MAX_BATCH_SIZE = 1_000;
export const AUDIT_WEBHOOK_FLUSH_INTERVAL_MS = 1_000;

/** Webhook sink: events waiting for delivery; beyond it the oldest are dropped and counted. */
export const AUDIT_WEBHOOK_MAX_QUEUE = 10_000;
export const AUDIT_WEBHOOK_MAX_QUEUE_CEILING = 1_000_000;

/** Webhook sink: one POST, from dialling to the status line. */
export const AUDIT_WEBHOOK_TIMEOUT_MS = 10_000;
export const AUDIT_WEBHOOK_MAX_TIMEOUT_MS = 120_000;

/** Webhook sink retries: full jitter in [0, min(cap, base·2^n)]. */
export const AUDIT_WEBHOOK_RETRY_BASE_MS = 500;
export const AUDIT_WEBHOOK_RETRY_CAP_MS = 60_000;

/** close() and flush() give up on undelivered events after this long; they are counted as dropped. */
export const AUDIT_CLOSE_DEADLINE_MS = 5_000;

/** A sink that drops events tells its `onDrop` listener at most this often. */
export const AUDIT_DROP_REPORT_INTERVAL_MS = 60_000;

/** Recent events kept in memory for the admin query endpoint. */
export const AUDIT_RECENT_EVENTS_CAPACITY = 10_000;
export const AUDIT_RECENT_EVENTS_MAX_CAPACITY = 1_000_000;

/** Events one admin query returns: by default, and at most. */
export const AUDIT_QUERY_DEFAULT_LIMIT = 100;
export const AUDIT_QUERY_MAX_LIMIT = 1_000;

/** One query parameter's value, and the number of types one query may name. */
export const AUDIT_QUERY_MAX_PARAM_LENGTH = 256;
export const AUDIT_QUERY_MAX_TYPES = 32;

/** Webhook sink: the longest a partial batch may be held back. */
export const AUDIT_WEBHOOK_MAX_FLUSH_INTERVAL_MS = 60_000;

/**
 * `gatehouse serve --workers`: a worker that dies is started again after a backoff (full jitter) from
 * WORKER_RESTART_BASE_MS up to WORKER_RESTART_CAP_MS; a worker that dies WORKER_START_ATTEMPTS times in a row
 * before its store answers stops the whole gateway (a broken config or an unreachable store would only spin).
 */
export const WORKER_RESTART_BASE_MS = 500;
export const WORKER_RESTART_CAP_MS = 10_000;
export const WORKER_START_ATTEMPTS = 5;

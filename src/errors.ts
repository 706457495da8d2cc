/**
 * Every failure Gatehouse reports has a stable code. The table says which HTTP
 * status it maps to, which step of the request path failed, and the sentence
 * a user is shown. Internal detail (the claim that failed, the library error)
 * goes to the audit log and never to the user.
 */

export type GatehouseStep = 'request' | 'app-resolution' | 'session' | 'sign-in' | 'conditional-access' | 'forwarding' | 'connector' | 'internal';

export type GatehouseErrorCode =
  | 'ERR_BAD_REQUEST'
  | 'ERR_HEADERS_TOO_LARGE'
  | 'ERR_UNKNOWN_HOST'
  | 'ERR_NOT_FOUND'
  | 'ERR_SESSION_REQUIRED'
  | 'ERR_SESSION_EXPIRED'
  | 'ERR_SESSION_INVALID'
  | 'ERR_SESSION_REVOKED'
  | 'ERR_COOKIE_TOO_LARGE'
  | 'ERR_SESSION_STORE_FULL'
  | 'ERR_RETURN_URL_REFUSED'
  | 'ERR_SIGNIN_STATE'
  | 'ERR_SIGNIN_LOOP'
  | 'ERR_SIGNIN_DENIED'
  | 'ERR_IDP_ERROR'
  | 'ERR_IDP_UNAVAILABLE'
  | 'ERR_ID_TOKEN_INVALID'
  | 'ERR_ID_TOKEN_EXPIRED'
  | 'ERR_CLOCK_SKEW'
  | 'ERR_POLICY_DENIED'
  | 'ERR_STEP_UP_REQUIRED'
  | 'ERR_STEP_UP_FAILED'
  | 'ERR_NO_CONNECTOR'
  | 'ERR_CONNECTOR_LOST'
  | 'ERR_BACKEND_UNREACHABLE'
  | 'ERR_BACKEND_TIMEOUT'
  | 'ERR_ORIGIN_REFUSED'
  | 'ERR_ADMIN_TOKEN_MISSING'
  | 'ERR_ADMIN_TOKEN_INVALID'
  | 'ERR_CSR_INVALID'
  | 'ERR_UNKNOWN_GROUP'
  | 'ERR_CONNECTOR_CERT'
  | 'ERR_CERT_REVOKED'
  | 'ERR_CONNECTOR_GROUP'
  | 'ERR_CONNECTOR_NOT_FOUND'
  | 'ERR_RENEWAL_NOT_DUE'
  | 'ERR_CERT_SUPERSEDED'
  | 'ERR_PAYLOAD_TOO_LARGE'
  | 'ERR_INTERNAL';

export interface ErrorDescription {
  readonly status: number;
  readonly step: GatehouseStep;
  readonly title: string;
  /** Shown to the user. Fixed text: never built from request data. */
  readonly message: string;
  /** Whether the page offers a fresh sign-in. */
  readonly offerSignIn?: boolean;
}

export const ERROR_TABLE: Readonly<Record<GatehouseErrorCode, ErrorDescription>> = Object.freeze({
  ERR_BAD_REQUEST: {
    status: 400,
    step: 'request',
    title: 'Bad request',
    message: 'The request was malformed and was not forwarded.',
  },
  ERR_HEADERS_TOO_LARGE: {
    status: 431,
    step: 'request',
    title: 'Request headers too large',
    message: 'The request headers, usually its cookies, are larger than this gateway accepts. Clear the cookies for this site and try again.',
  },
  ERR_UNKNOWN_HOST: {
    status: 404,
    step: 'app-resolution',
    title: 'Unknown application',
    message: 'No application is published at this address.',
  },
  ERR_NOT_FOUND: {
    status: 404,
    step: 'app-resolution',
    title: 'Not found',
    message: 'This gateway address does not exist.',
  },
  ERR_SESSION_REQUIRED: {
    status: 401,
    step: 'session',
    title: 'Sign-in required',
    message: 'You need to sign in to use this application.',
    offerSignIn: true,
  },
  ERR_SESSION_EXPIRED: {
    status: 401,
    step: 'session',
    title: 'Session expired',
    message: 'Your session has expired. Sign in again to continue.',
    offerSignIn: true,
  },
  ERR_SESSION_INVALID: {
    status: 401,
    step: 'session',
    title: 'Session not valid',
    message: 'Your session cookie is not valid for this application. Sign in again to continue.',
    offerSignIn: true,
  },
  ERR_SESSION_REVOKED: {
    status: 401,
    step: 'session',
    title: 'Session ended',
    message: 'This session was ended, by signing out or by an administrator. Sign in again to continue.',
    offerSignIn: true,
  },
  ERR_COOKIE_TOO_LARGE: {
    status: 500,
    step: 'session',
    title: 'Session too large',
    message: 'Your account carries more information than fits in a browser cookie, so a session could not be created. Contact your administrator.',
  },
  ERR_SESSION_STORE_FULL: {
    status: 503,
    step: 'session',
    title: 'Too many sessions',
    message:
      'The gateway cannot keep any more sessions like yours right now, so this sign-in could not be completed. Try again in a few minutes; if it lasts, tell your administrator.',
  },
  ERR_RETURN_URL_REFUSED: {
    status: 400,
    step: 'sign-in',
    title: 'Return address refused',
    message: 'The address to return to after sign-in is not part of this application, so it was refused.',
  },
  ERR_SIGNIN_STATE: {
    status: 400,
    step: 'sign-in',
    title: 'Sign-in could not be completed',
    message: 'This sign-in response does not match a sign-in started in this browser, or it was already used. Start the sign-in again.',
    offerSignIn: true,
  },
  ERR_SIGNIN_LOOP: {
    status: 400,
    step: 'sign-in',
    title: 'Sign-in keeps repeating',
    message:
      'You signed in, but your browser did not keep the session cookie, so the sign-in would repeat forever. Allow cookies for this site (and check that no extension or proxy strips them), then try again.',
    offerSignIn: true,
  },
  ERR_SIGNIN_DENIED: {
    status: 403,
    step: 'sign-in',
    title: 'Sign-in refused',
    message: 'The identity provider did not allow this sign-in.',
    offerSignIn: true,
  },
  ERR_IDP_ERROR: {
    status: 502,
    step: 'sign-in',
    title: 'Identity provider error',
    message: 'The identity provider returned an error while completing the sign-in. Start the sign-in again.',
    offerSignIn: true,
  },
  ERR_IDP_UNAVAILABLE: {
    status: 503,
    step: 'sign-in',
    title: 'Identity provider unavailable',
    message: 'The identity provider cannot be reached right now. Try again in a moment.',
  },
  ERR_ID_TOKEN_INVALID: {
    status: 401,
    step: 'sign-in',
    title: 'Identity token refused',
    message: 'The identity token from the sign-in failed verification, so it was refused.',
    offerSignIn: true,
  },
  ERR_ID_TOKEN_EXPIRED: {
    status: 401,
    step: 'sign-in',
    title: 'Identity token expired',
    message: 'The identity token from the sign-in has already expired. Start the sign-in again.',
    offerSignIn: true,
  },
  ERR_CLOCK_SKEW: {
    status: 401,
    step: 'sign-in',
    title: 'Clocks disagree',
    message: 'The identity token is dated in the future. The clocks of the gateway and the identity provider disagree: check the clock.',
    offerSignIn: true,
  },
  ERR_POLICY_DENIED: {
    status: 403,
    step: 'conditional-access',
    title: 'Access denied by policy',
    message: "Your organization's access policy does not allow this request.",
  },
  ERR_STEP_UP_REQUIRED: {
    status: 401,
    step: 'conditional-access',
    title: 'Stronger sign-in required',
    message: 'This request needs a stronger or more recent sign-in. Sign in again to continue.',
    offerSignIn: true,
  },
  ERR_STEP_UP_FAILED: {
    status: 403,
    step: 'conditional-access',
    title: 'Sign-in not strong enough',
    message: "You signed in again, but the sign-in still does not meet this application's policy.",
  },
  ERR_NO_CONNECTOR: {
    status: 503,
    step: 'forwarding',
    title: 'No connector available',
    message:
      'No connector for the application "{app}" is online, so it cannot be reached right now. Try again shortly; if it lasts, ask an administrator to check the connectors.',
  },
  ERR_CONNECTOR_LOST: {
    status: 502,
    step: 'forwarding',
    title: 'Connection to the application lost',
    message: 'The connector carrying this request went away before the application finished answering. Try again.',
  },
  ERR_BACKEND_UNREACHABLE: {
    status: 502,
    step: 'forwarding',
    title: 'Application unreachable',
    message: 'The application behind this gateway could not be reached.',
  },
  ERR_BACKEND_TIMEOUT: {
    status: 504,
    step: 'forwarding',
    title: 'Application timed out',
    message: 'The application behind this gateway did not answer in time.',
  },
  ERR_ORIGIN_REFUSED: {
    status: 403,
    step: 'request',
    title: 'Cross-origin connection refused',
    message: 'A WebSocket to this application may only be opened by its own pages.',
  },
  ERR_ADMIN_TOKEN_MISSING: {
    status: 401,
    step: 'connector',
    title: 'Admin token required',
    message: 'This call needs an administrator\'s access token from the identity provider, as "Authorization: Bearer <token>".',
  },
  ERR_ADMIN_TOKEN_INVALID: {
    status: 401,
    step: 'connector',
    title: 'Admin token refused',
    message: 'The access token was refused: it must be a current token from the configured tenant, for this service, held by an administrator.',
  },
  ERR_CSR_INVALID: {
    status: 400,
    step: 'connector',
    title: 'Certificate request refused',
    message: 'The certificate request was refused: it must be a PEM PKCS#10 request with a valid signature and an RSA key of at least 2048 bits.',
  },
  ERR_UNKNOWN_GROUP: {
    status: 400,
    step: 'connector',
    title: 'Unknown connector group',
    message: 'No published app uses this connector group. Use "default" or a group named by an app.',
  },
  ERR_CONNECTOR_CERT: {
    status: 401,
    step: 'connector',
    title: 'Client certificate refused',
    message:
      'This call needs the client certificate the service issued to a registered connector. Register the connector again if its certificate was lost or replaced.',
  },
  ERR_CERT_REVOKED: {
    status: 401,
    step: 'connector',
    title: 'Connector revoked',
    message: 'This connector was revoked by an administrator. Register it again to reconnect.',
  },
  ERR_CONNECTOR_GROUP: {
    status: 403,
    step: 'connector',
    title: 'Other connector group',
    message: 'A connector may only read the configuration of its own connector group.',
  },
  ERR_CONNECTOR_NOT_FOUND: {
    status: 404,
    step: 'connector',
    title: 'Unknown connector',
    message: 'No registered connector has this id.',
  },
  ERR_RENEWAL_NOT_DUE: {
    status: 409,
    step: 'connector',
    title: 'Renewal not due',
    message: 'The current certificate is not yet old enough to be renewed.',
  },
  ERR_CERT_SUPERSEDED: {
    status: 409,
    step: 'connector',
    title: 'Certificate already renewed',
    message:
      'This certificate was already renewed: only the certificate issued then can renew, or a retry of that same request. If that certificate was lost, register the connector again.',
  },
  ERR_PAYLOAD_TOO_LARGE: {
    status: 413,
    step: 'request',
    title: 'Request body too large',
    message: 'The request body is larger than this endpoint accepts.',
  },
  ERR_INTERNAL: {
    status: 500,
    step: 'internal',
    title: 'Internal error',
    message: 'Something went wrong inside the gateway. The request ID below identifies it in the logs.',
  },
});

export class GatehouseError extends Error {
  readonly code: GatehouseErrorCode;
  readonly status: number;
  readonly step: GatehouseStep;
  /** Machine-readable reason for logs and audit events; never shown to the user. */
  readonly reason: string;

  constructor(code: GatehouseErrorCode, reason?: string, options?: { cause?: unknown }) {
    const description = ERROR_TABLE[code];
    super(description.message, options);
    this.name = 'GatehouseError';
    this.code = code;
    this.status = description.status;
    this.step = description.step;
    this.reason = reason ?? code;
  }
}

/** A caller mistake (bad option, bad config), thrown at construction time. */
export class GatehouseConfigError extends TypeError {
  readonly code = 'ERR_INVALID_CONFIG';
  readonly issues: readonly string[];

  constructor(issues: readonly string[]) {
    super(`Invalid Gatehouse configuration:\n  - ${issues.join('\n  - ')}`);
    this.name = 'GatehouseConfigError';
    this.issues = issues;
  }
}

export function isGatehouseError(value: unknown): value is GatehouseError {
  return value instanceof GatehouseError;
}

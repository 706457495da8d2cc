/**
 * The gateway's codes for the sign-in with the identity provider: the return
 * URL, the transaction, the provider's answer and the ID token it gave.
 * Part of the gateway's codes (GATEWAY_ERRORS), kept apart for size.
 */
import type { ErrorRow } from './row.ts';

export const SIGNIN_ERRORS = {
  ERR_RETURN_URL_REFUSED: {
    status: 400,
    step: 'sign-in',
    title: 'Return address refused',
    message: 'The address to return to after sign-in is not part of this application, so it was refused.',
    expose: false,
    retryable: false,
  },
  ERR_SIGNIN_STATE: {
    status: 400,
    step: 'sign-in',
    title: 'Sign-in could not be completed',
    message: 'This sign-in response does not match a sign-in started in this browser, or it was already used. Start the sign-in again.',
    expose: false,
    retryable: false,
    offerSignIn: true,
  },
  ERR_SIGNIN_LOOP: {
    status: 400,
    step: 'sign-in',
    title: 'Sign-in keeps repeating',
    message:
      'You signed in, but your browser did not keep the session cookie, so the sign-in would repeat forever. Allow cookies for this site (and check that no extension or proxy strips them), then try again.',
    expose: false,
    retryable: false,
    offerSignIn: true,
  },
  ERR_GROUPS_OVERAGE: {
    status: 403,
    step: 'sign-in',
    title: 'Group memberships unknown',
    message: 'You are in too many groups for the sign-in to list, so your access cannot be checked. An administrator can have only this app’s groups sent.',
    expose: false,
    retryable: false,
  },
  ERR_SIGNIN_DENIED: {
    status: 403,
    step: 'sign-in',
    title: 'Sign-in refused',
    message: 'The identity provider did not allow this sign-in.',
    expose: false,
    retryable: false,
    offerSignIn: true,
  },
  ERR_IDP_ERROR: {
    status: 502,
    step: 'sign-in',
    title: 'Identity provider error',
    message: 'The identity provider returned an error while completing the sign-in. Start the sign-in again.',
    expose: false,
    retryable: false,
    offerSignIn: true,
  },
  ERR_STORE_UNAVAILABLE: {
    status: 503,
    step: 'session',
    title: 'State store unavailable',
    message: 'The gateway cannot reach its state store right now, so it cannot check or start sessions, or register connectors. Try again in a moment.',
    expose: false,
    retryable: true,
  },
  ERR_IDP_UNAVAILABLE: {
    status: 503,
    step: 'sign-in',
    title: 'Identity provider unavailable',
    message: 'The identity provider cannot be reached right now. Try again in a moment.',
    expose: false,
    retryable: true,
  },
  ERR_ID_TOKEN_INVALID: {
    status: 401,
    step: 'sign-in',
    title: 'Identity token refused',
    message: 'The identity token from the sign-in failed verification, so it was refused.',
    expose: false,
    retryable: false,
    offerSignIn: true,
  },
  ERR_ID_TOKEN_EXPIRED: {
    status: 401,
    step: 'sign-in',
    title: 'Identity token expired',
    message: 'The identity token from the sign-in has already expired. Start the sign-in again.',
    expose: false,
    retryable: false,
    offerSignIn: true,
  },
  ERR_CLOCK_SKEW: {
    status: 401,
    step: 'sign-in',
    title: 'Clocks disagree',
    message: 'The identity token is dated in the future. The clocks of the gateway and the identity provider disagree: check the clock.',
    expose: false,
    retryable: false,
    offerSignIn: true,
  },
} as const satisfies Readonly<Record<`ERR_${string}`, ErrorRow>>;

import * as client from 'openid-client';
import { GatehouseError } from '../errors/index.ts';

interface ClaimCause {
  readonly claim?: unknown;
}

/** Maps openid-client's failures to our codes; the reason names the check that failed. */
export function mapExchangeError(error: unknown): GatehouseError {
  if (error instanceof GatehouseError) return error;
  if (error instanceof client.ResponseBodyError) {
    return new GatehouseError('ERR_IDP_ERROR', `token_endpoint:${safeToken(error.error)}`, { cause: error });
  }
  if (error instanceof client.AuthorizationResponseError) {
    return new GatehouseError(error.error === 'access_denied' ? 'ERR_SIGNIN_DENIED' : 'ERR_IDP_ERROR', `authorization:${safeToken(error.error)}`, {
      cause: error,
    });
  }
  if (error instanceof client.ClientError) {
    const inner = error.cause instanceof Error ? error.cause : undefined;
    const detail = inner?.cause as ClaimCause | undefined;
    const claim = typeof detail?.claim === 'string' ? detail.claim : undefined;
    switch (error.code) {
      case 'OAUTH_JWT_CLAIM_COMPARISON_FAILED':
        return new GatehouseError('ERR_ID_TOKEN_INVALID', `${claim ?? 'claim'}_mismatch`, { cause: error });
      case 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED':
        if (claim === 'exp') return new GatehouseError('ERR_ID_TOKEN_EXPIRED', 'exp', { cause: error });
        if (claim === 'nbf') return new GatehouseError('ERR_CLOCK_SKEW', 'nbf_in_future', { cause: error });
        return new GatehouseError('ERR_ID_TOKEN_INVALID', `${claim ?? 'timestamp'}_check_failed`, { cause: error });
      case 'OAUTH_INVALID_RESPONSE': {
        const message = inner?.message ?? '';
        if (message.includes('signature verification failed')) {
          return new GatehouseError('ERR_ID_TOKEN_INVALID', 'signature', { cause: error });
        }
        if (message.includes('"alg"')) return new GatehouseError('ERR_ID_TOKEN_INVALID', 'alg', { cause: error });
        const missing = /^JWT "([a-z_]{1,32})" \([^)]*\) claim missing$/.exec(message);
        if (missing) return new GatehouseError('ERR_ID_TOKEN_INVALID', `${missing[1]}_missing`, { cause: error });
        return new GatehouseError('ERR_ID_TOKEN_INVALID', 'invalid_response', { cause: error });
      }
      case 'OAUTH_KEY_SELECTION_FAILED':
        return new GatehouseError('ERR_ID_TOKEN_INVALID', 'unknown_key', { cause: error });
      case 'OAUTH_UNSUPPORTED_OPERATION':
        return new GatehouseError('ERR_ID_TOKEN_INVALID', 'unsupported_alg', { cause: error });
      case 'OAUTH_TIMEOUT':
      case 'OAUTH_ABORT':
        return new GatehouseError('ERR_IDP_UNAVAILABLE', 'timeout', { cause: error });
      default:
        return new GatehouseError('ERR_IDP_ERROR', safeToken(error.code ?? 'client_error'), { cause: error });
    }
  }
  if (error instanceof TypeError) {
    // fetch() failed: the identity provider is unreachable.
    return new GatehouseError('ERR_IDP_UNAVAILABLE', 'unreachable', { cause: error });
  }
  return new GatehouseError('ERR_IDP_ERROR', 'unexpected', { cause: error });
}

function safeToken(value: string): string {
  return value.replace(/[^A-Za-z0-9_.:-]/g, '').slice(0, 64) || 'unknown';
}

/** A short, safe word for why a call to the provider failed, for the error reason. */
export function describe(error: unknown): string {
  if (error instanceof client.ClientError) return safeToken(error.code ?? 'client_error');
  if (error instanceof Error) return safeToken((error.cause as { code?: string } | undefined)?.code ?? error.name);
  return 'unknown';
}

import { GatehouseError } from '../errors/index.ts';

/** A store failure met while refreshing, as the 503 a request gets for it. */
export function storeFailure(error: unknown): GatehouseError {
  return error instanceof GatehouseError ? error : new GatehouseError('ERR_STORE_UNAVAILABLE', 'refresh_store_unreachable', { cause: error });
}

/**
 * What a request whose ID token has expired is answered when a refresh failed
 * for a reason that may pass (a retryable 503); undefined when the failure is
 * the provider's verdict, which ends the session.
 */
export function retryableAnswer(failure: GatehouseError): GatehouseError | undefined {
  if (!isTransient(failure)) return undefined;
  return failure.code === 'ERR_STORE_UNAVAILABLE' ? failure : new GatehouseError('ERR_IDP_UNAVAILABLE', `refresh:${failure.reason}`, { cause: failure });
}

/**
 * Whether a failed refresh may work later: the provider could not be reached
 * or had trouble of its own. Anything it answered with a verdict about the
 * token (invalid_grant and the like) or a token that fails its checks ends the session.
 */
function isTransient(error: GatehouseError): boolean {
  if (error.code === 'ERR_IDP_UNAVAILABLE' || error.code === 'ERR_STORE_UNAVAILABLE') return true;
  if (error.code !== 'ERR_IDP_ERROR') return false;
  if (!error.reason.startsWith('token_endpoint:')) return true;
  return error.reason === 'token_endpoint:server_error' || error.reason === 'token_endpoint:temporarily_unavailable';
}

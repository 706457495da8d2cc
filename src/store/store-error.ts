export type StoreErrorCode =
  /** Another live process (or this one) already has the state directory open. */
  | 'ERR_STORE_LOCKED'
  | 'ERR_STORE_CLOSED'
  | 'ERR_STORE_KEY_INVALID'
  | 'ERR_STORE_VALUE_INVALID'
  /** The state directory cannot be created, is not a directory, or cannot be locked. */
  | 'ERR_STORE_UNUSABLE';

/** Not an HTTP error: a route that meets one answers ERR_INTERNAL and logs the code. */
export class StoreError extends Error {
  readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
  }
}

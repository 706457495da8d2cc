export type StoreErrorCode =
  | 'ERR_STORE_CLOSED'
  | 'ERR_STORE_KEY_INVALID'
  | 'ERR_STORE_VALUE_INVALID'
  /** The state directory or its database cannot be created or opened, or an earlier version's file in it cannot be imported. */
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

/**
 * Errors of the connector PKI. They are not HTTP errors: the registration and
 * renewal routes map them (a bad request is a 400 that quotes `message`, which
 * never contains request data beyond a key size or an algorithm name).
 */

/** ERR_CSR_KEY_CURVE: an EC key on a curve other than P-256. */
export type CsrErrorCode = 'ERR_CSR_TOO_LARGE' | 'ERR_CSR_MALFORMED' | 'ERR_CSR_SIGNATURE' | 'ERR_CSR_KEY_TYPE' | 'ERR_CSR_KEY_TOO_SMALL' | 'ERR_CSR_KEY_CURVE';

/** A certificate request that the service refuses to sign. */
export class CsrError extends Error {
  readonly code: CsrErrorCode;

  constructor(code: CsrErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CsrError';
    this.code = code;
  }
}

/**
 * ERR_CA_KEY_MISMATCH: the CA private key in the store was sealed with a key
 * that is not configured, or it does not decrypt (wrong key, or altered).
 * ERR_CA_KEY_MISSING: the stored CA is sealed and no key is configured.
 */
export type CaErrorCode = 'ERR_CA_INVALID' | 'ERR_CA_EXPIRED' | 'ERR_CA_KEY_MISMATCH' | 'ERR_CA_KEY_MISSING';

/** The CA material is unusable, its sealed key cannot be opened, or the CA cannot sign at the requested time. */
export class CaError extends Error {
  readonly code: CaErrorCode;

  constructor(code: CaErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CaError';
    this.code = code;
  }
}

/** A caller mistake (bad option), as opposed to hostile input. */
export class PkiArgumentError extends TypeError {
  readonly code = 'ERR_INVALID_ARG_VALUE';

  constructor(argument: string, problem: string) {
    super(`${argument}: ${problem}`);
    this.name = 'PkiArgumentError';
  }
}

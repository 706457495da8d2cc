/**
 * The errors of `gatehouse/testing`. Every one is a mistake in a test's set-up,
 * so each says what to change.
 */

export type TestingErrorCode =
  /** The gateway was not created with `{ testing: true }`. */
  | 'ERR_TESTING_DISABLED'
  /** An option is missing or wrong (an unknown app id, no `connectors`). */
  | 'ERR_INVALID_ARG_VALUE';

/** A caller mistake, in the style of Node's coded `TypeError`s. */
export class TestingError extends TypeError {
  readonly code: TestingErrorCode;

  constructor(code: TestingErrorCode, message: string) {
    super(message);
    this.name = 'TestingError';
    this.code = code;
  }
}

/** An optional peer dependency (supertest) is not installed where the test runs. */
export class MissingPeerError extends Error {
  readonly code = 'ERR_TESTING_PEER_MISSING';
  /** The package to install. */
  readonly packageName: string;

  constructor(packageName: string, purpose: string, cause: unknown) {
    super(
      `gatehouse/testing needs the package "${packageName}" for ${purpose}, and it is not installed. ` +
        `Add it to your test dependencies: npm install --save-dev ${packageName}`,
      { cause },
    );
    this.name = 'MissingPeerError';
    this.packageName = packageName;
  }
}

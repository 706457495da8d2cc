/**
 * What one row of the error table says about a code. Every plane's table
 * (gateway, connector plane, connector process, tunnel) is built of these,
 * so a renderer, a log search or a test can read any code the same way.
 */

export type GatehouseStep = 'request' | 'app-resolution' | 'session' | 'sign-in' | 'conditional-access' | 'forwarding' | 'connector' | 'internal';

export interface ErrorRow {
  /**
   * The HTTP status the failure is answered with. The connector process
   * answers no HTTP: its rows carry the status of the same condition, so
   * the two processes' logs and metrics group alike.
   */
  readonly status: number;
  readonly step: GatehouseStep;
  readonly title: string;
  /** Shown to the user or operator. Fixed text: never built from request data. */
  readonly message: string;
  /**
   * Whether an instance's own detail (a key size, the service's URL, what
   * the connector said) may be shown with the message. Operators need it to
   * act; a browser's user, or someone probing the gateway, is told the fixed
   * message only.
   */
  readonly expose: boolean;
  /** Whether the same call may succeed if tried again later, unchanged. */
  readonly retryable: boolean;
  /** Whether the page offers a fresh sign-in. */
  readonly offerSignIn?: boolean;
}

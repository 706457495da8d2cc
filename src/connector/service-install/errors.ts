/** What `gatehouse-connector service …` fails with: a stable code and a line for the operator. */

export type ServiceInstallErrorCode =
  /** Installing on this host needs root; --dry-run and --root do not. */
  | 'ERR_INSTALL_NOT_ROOT'
  /** An option that cannot be used as given. */
  | 'ERR_INSTALL_ARGUMENT'
  /** A step (useradd, chown, systemctl, a file) failed; the message names it. */
  | 'ERR_INSTALL_STEP_FAILED'
  /** The state directory holds another service's registration. */
  | 'ERR_INSTALL_CONFLICT';

export class ServiceInstallError extends Error {
  readonly code: ServiceInstallErrorCode;

  constructor(code: ServiceInstallErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ServiceInstallError';
    this.code = code;
  }
}

/**
 * Gets an administrator's access token with the OAuth 2.0 Device
 * Authorization Grant (RFC 8628), so that registering a connector on a
 * server without a browser needs no token pasted on a command line: the
 * service says which identity provider, client and resource to use
 * (`registration-info`), the operator opens a URL elsewhere and types a code.
 *
 * The RFC 8707 `resource` parameter is sent only when the service names one
 * (or `--resource` does): some providers set the token's audience from it,
 * others (Microsoft Entra ID's v2.0 endpoint) refuse any request carrying it.
 */
import * as oidc from 'openid-client';
import { fetch as undiciFetch } from 'undici';
import { z } from 'zod';
import type { Logger } from '../logging/logger.ts';
import { ConnectorError } from '../errors/connector-error.ts';
import { SERVICE_REQUEST_TIMEOUT_MS } from '../limits.ts';
import { REGISTRATION_INFO_PATH } from '../protocol/connector-api.ts';
import type { ServiceClient } from './service-client.ts';
import { startCountdown, type StatusStream } from './countdown-line.ts';
import { idpDispatcher, proxyFailureIn } from './idp-dispatcher.ts';

export interface RegistrationInfo {
  readonly issuer: string;
  readonly deviceClientId: string;
  /** Absent: the device authorization request carries no `resource`. */
  readonly resource?: string | undefined;
  readonly scope: string;
}

const registrationInfoSchema = z.object({
  issuer: z.url({ protocol: /^https$/ }),
  deviceClientId: z.string().min(1).max(500),
  resource: z.string().min(1).max(2000).optional(),
  scope: z.string().max(2000),
});

export interface DeviceLoginOptions {
  /** The service (anonymous calls only). */
  readonly client: ServiceClient;
  /**
   * Trust anchors (PEM) for the identity provider's TLS certificate; they
   * replace the system roots. Absent: the system roots.
   */
  readonly idpCa?: readonly string[];
  /** Short lines for the person at the terminal. */
  readonly progress?: (line: string) => void;
  /**
   * The terminal (stderr): when it is a TTY, the wait is one line redrawn with
   * the time left; otherwise `progress` gets a plain line now and then.
   */
  readonly terminal?: StatusStream | undefined;
  /** Put before the redrawn line, as `progress` puts it before its lines. */
  readonly terminalPrefix?: string | undefined;
  /**
   * The RFC 8707 resource to ask for, replacing the service's choice; `false`
   * sends none. Absent: what registration-info says.
   */
  readonly resource?: string | false | undefined;
  readonly log?: Logger;
  readonly signal?: AbortSignal;
  /** How often a "still waiting" line is printed when there is no terminal. */
  readonly progressIntervalMs?: number;
}

/** GET registration-info: which identity provider, client, scope and resource to ask. */
export async function fetchRegistrationInfo(client: ServiceClient, signal?: AbortSignal): Promise<RegistrationInfo> {
  const body = await client.call({ method: 'GET', path: REGISTRATION_INFO_PATH, anonymous: true, ...(signal ? { signal } : {}) });
  const parsed = registrationInfoSchema.safeParse(body);
  if (!parsed.success) {
    throw new ConnectorError(
      'ERR_SERVICE_BAD_RESPONSE',
      `The service's registration-info is not usable (${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}). Pass an admin token with --token instead.`,
      { reason: 'registration_info' },
    );
  }
  return parsed.data;
}

const UNTRUSTED =
  /^(?:UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(?:_LOCALLY)?|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|CERT_UNTRUSTED|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|ERR_TLS_CERT_ALTNAME_INVALID)$/;

// fetch() wraps the socket's error: `TypeError: fetch failed` → cause → cause.
function rootCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current !== undefined && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && !code.startsWith('OAUTH_')) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function idpError(error: unknown, issuer: string, step: string): ConnectorError {
  const proxyFailure = proxyFailureIn(error);
  if (proxyFailure) return proxyFailure;
  if (error instanceof oidc.ResponseBodyError) {
    const description = error.error_description ? `: ${error.error_description}` : '';
    if (error.error === 'expired_token') {
      return new ConnectorError(
        'ERR_DEVICE_CODE_EXPIRED',
        'The code expired before anyone signed in with it. Run the command again and sign in within the time shown.',
        {
          reason: error.error,
          cause: error,
        },
      );
    }
    if (error.error === 'access_denied') {
      return new ConnectorError('ERR_DEVICE_LOGIN_DENIED', `The sign-in was declined at the identity provider${description}.`, {
        reason: error.error,
        cause: error,
      });
    }
    return new ConnectorError('ERR_IDP_ERROR', `The identity provider ${issuer} refused the ${step}: ${error.error}${description}.`, {
      reason: error.error,
      cause: error,
    });
  }
  const code = rootCode(error);
  if (code !== undefined && UNTRUSTED.test(code)) {
    return new ConnectorError(
      'ERR_IDP_UNREACHABLE',
      `The TLS certificate of the identity provider ${issuer} is not trusted (${code}). Give its CA with --idp-ca-file FILE. If it should be trusted already, a TLS-intercepting proxy may be in the way.`,
      { reason: code, retryable: false, cause: error },
    );
  }
  if (code !== undefined && /^(?:E[A-Z]+|UND_ERR_[A-Z_]+)$/.test(code)) {
    return new ConnectorError('ERR_IDP_UNREACHABLE', `The identity provider ${issuer} is unreachable during the ${step} (${code}).`, {
      reason: code,
      cause: error,
    });
  }
  const detail = error instanceof Error ? error.message : String(error);
  return new ConnectorError('ERR_IDP_ERROR', `The ${step} with the identity provider ${issuer} failed: ${detail}`, {
    reason: code ?? 'unknown',
    cause: error,
  });
}

function isTimeout(error: unknown): boolean {
  return (
    error instanceof Error && (error.name === 'TimeoutError' || (error.name === 'AbortError' && (error.cause as Error | undefined)?.name === 'TimeoutError'))
  );
}

/**
 * Runs the device flow and resolves with the access token. The token is
 * returned to the caller only: never printed, never logged.
 */
export async function obtainAdminTokenByDeviceLogin(options: DeviceLoginOptions): Promise<string> {
  const progress = options.progress ?? ((): void => undefined);
  const { log, signal } = options;
  const info = await fetchRegistrationInfo(options.client, signal);
  const resource = options.resource === undefined ? info.resource : options.resource === false ? undefined : options.resource;
  log?.info({ issuer: info.issuer, clientId: info.deviceClientId, resource: resource ?? null }, 'device login: asking the identity provider');

  // The identity provider is reached the way the service is: through the outbound proxy, if any.
  const dispatcher = idpDispatcher(options.client.proxy, options.idpCa);
  const customFetch: oidc.CustomFetch | undefined = dispatcher
    ? (url, init) =>
        // The npm undici's fetch is the one guaranteed to accept its own Agent.
        undiciFetch(url, {
          method: init.method,
          headers: init.headers,
          body: init.body as string | undefined,
          redirect: init.redirect,
          ...(init.signal ? { signal: init.signal } : {}),
          dispatcher,
        })
    : undefined;

  try {
    let config: oidc.Configuration;
    try {
      config = await oidc.discovery(new URL(info.issuer), info.deviceClientId, undefined, oidc.None(), {
        ...(customFetch ? { [oidc.customFetch]: customFetch } : {}),
        timeout: SERVICE_REQUEST_TIMEOUT_MS / 1000,
      });
    } catch (error) {
      throw idpError(error, info.issuer, 'discovery');
    }

    let device: oidc.DeviceAuthorizationResponse;
    try {
      device = await oidc.initiateDeviceAuthorization(config, {
        scope: info.scope,
        // RFC 8707: the token is for the connector service, not for the IdP.
        ...(resource === undefined ? {} : { resource }),
      });
    } catch (error) {
      throw idpError(error, info.issuer, 'device authorization');
    }

    const minutes = Math.max(1, Math.round(device.expires_in / 60));
    progress(`To register this connector, open ${device.verification_uri} and enter code ${device.user_code}`);
    if (device.verification_uri_complete !== undefined) {
      progress(`  (or open ${device.verification_uri_complete} to skip typing the code)`);
    }
    progress(`Waiting for an administrator to sign in; the code expires in ${minutes} min.`);
    log?.info({ verificationUri: device.verification_uri, expiresIn: device.expires_in }, 'device login: waiting for the user');

    const countdown = startCountdown({
      expiresAt: Date.now() + device.expires_in * 1000,
      progress,
      stream: options.terminal,
      prefix: options.terminalPrefix,
      lineIntervalMs: options.progressIntervalMs,
    });
    const deadline = AbortSignal.timeout(device.expires_in * 1000);
    try {
      const tokens = await oidc.pollDeviceAuthorizationGrant(config, device, undefined, {
        signal: signal ? AbortSignal.any([signal, deadline]) : deadline,
      });
      countdown.finish('Signed in.');
      log?.info({ issuer: info.issuer }, 'device login: token received');
      return tokens.access_token;
    } catch (error) {
      if (signal?.aborted) {
        countdown.finish('Stopped.');
        throw new ConnectorError('ERR_ABORTED', 'Stopped while waiting for the sign-in.', { retryable: false });
      }
      if (deadline.aborted || isTimeout(error)) {
        countdown.finish('The code expired.');
        throw new ConnectorError(
          'ERR_DEVICE_CODE_EXPIRED',
          'The code expired before anyone signed in with it. Run the command again and sign in within the time shown.',
          {
            reason: 'expired_token',
            cause: error,
          },
        );
      }
      const failure = idpError(error, info.issuer, 'sign-in');
      countdown.finish(
        failure.code === 'ERR_DEVICE_CODE_EXPIRED'
          ? 'The code expired.'
          : failure.code === 'ERR_DEVICE_LOGIN_DENIED'
            ? 'Declined at the identity provider.'
            : 'The sign-in failed.',
      );
      throw failure;
    } finally {
      countdown.finish('Stopped.');
    }
  } finally {
    await dispatcher?.close();
  }
}

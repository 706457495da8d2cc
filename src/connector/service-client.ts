/**
 * HTTPS calls from the connector to the service's connector listener. Trust
 * is the CA bundle given at registration (else the system roots); identity is
 * the client certificate, presented on every call but the public ones. The
 * identity is swappable (as in cloudflared `certreloader.go`): after
 * renewal the next call uses the new certificate without a restart.
 *
 * Every failure becomes a ConnectorError (service-errors.ts).
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { ConnectorArgumentError, ConnectorError } from '../errors/connector-error.ts';
import { MAX_SERVICE_BODY_BYTES, SERVICE_REQUEST_TIMEOUT_MS } from '../limits.ts';
import { CONNECTOR_API_ALPN } from '../protocol/connector-api.ts';
import { ProxiedHttpsAgent } from './outbound-proxy.ts';
import { DIRECT, type OutboundProxySettings } from './proxy-settings.ts';
import { mapHttpError, mapTransportError, type CallContext } from './service-errors.ts';
import type { ClientIdentity } from './state.ts';

export interface ServiceClientOptions {
  /** The service's connector listener, an https origin such as "https://gatehouse.example.com:8444". */
  readonly serviceUrl: string | URL;
  /** PEM CA bundle that signs the service's TLS certificate; absent: the system roots. */
  readonly ca?: string;
  readonly identity?: ClientIdentity;
  /** Per-call deadline, dialling included. Default SERVICE_REQUEST_TIMEOUT_MS. */
  readonly timeoutMs?: number;
  /** The outbound proxy (proxy-settings.ts resolveProxySettings); default: direct connections. */
  readonly proxy?: OutboundProxySettings;
}

export interface CallOptions {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly body?: unknown;
  /** An admin access token (registration). Never logged. */
  readonly bearer?: string;
  /** Leave the client certificate out (registration-info, register). */
  readonly anonymous?: boolean;
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
}

export interface StreamOptions {
  readonly path: string;
  readonly signal?: AbortSignal;
  /** Until the response headers arrive. */
  readonly timeoutMs?: number;
}

// The service's audit log (and its admin console) shows which version each connector runs from this.
const USER_AGENT = `gatehouse-connector/${(JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version}`;

/** Validates a --service URL: https, an origin only, no credentials. */
export function parseServiceUrl(value: string | URL): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConnectorArgumentError(`--service must be an https URL such as "https://gatehouse.example.com:8444", got ${JSON.stringify(String(value))}`);
  }
  if (url.protocol !== 'https:') {
    throw new ConnectorArgumentError(`--service must be an https URL: everything the connector sends goes over TLS (got ${url.protocol}//)`);
  }
  if (url.username !== '' || url.password !== '') throw new ConnectorArgumentError('--service must not contain a user name or password');
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') {
    throw new ConnectorArgumentError(`--service must be an origin only (no path), e.g. "${url.origin}"`);
  }
  return new URL(url.origin);
}

function abortError(): ConnectorError {
  return new ConnectorError('ERR_ABORTED', 'Stopped.', { retryable: false, reason: 'aborted' });
}

function timeoutError(origin: string, ms: number): ConnectorError {
  return new ConnectorError('ERR_SERVICE_TIMEOUT', `The service at ${origin} did not answer within ${Math.round(ms / 1000)} s.`, {
    reason: 'timeout',
  });
}

async function readLimitedBody(res: IncomingMessage, origin: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_SERVICE_BODY_BYTES) {
      res.destroy();
      throw new ConnectorError(
        'ERR_SERVICE_BAD_RESPONSE',
        `The answer from ${origin} is larger than the ${MAX_SERVICE_BODY_BYTES} bytes the protocol allows: it is not the Gatehouse service.`,
        { reason: 'too_large' },
      );
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export class ServiceClient {
  readonly url: URL;
  readonly #ca: string | undefined;
  readonly #timeoutMs: number;
  readonly #proxy: OutboundProxySettings;
  #identity: ClientIdentity | undefined;
  #agent: Agent;
  readonly #anonymousAgent: Agent;

  constructor(options: ServiceClientOptions) {
    this.url = parseServiceUrl(options.serviceUrl);
    this.#ca = options.ca;
    this.#timeoutMs = options.timeoutMs ?? SERVICE_REQUEST_TIMEOUT_MS;
    this.#proxy = options.proxy ?? DIRECT;
    this.#identity = options.identity;
    this.#agent = this.#makeAgent(options.identity);
    this.#anonymousAgent = this.#makeAgent(undefined);
  }

  get origin(): string {
    return this.url.origin;
  }

  /** The CA bundle the service's certificate is checked against (undefined: the system roots). */
  get ca(): string | undefined {
    return this.#ca;
  }

  /** The outbound proxy settings every connection to the service (and the tunnels, and the identity provider) follows. */
  get proxy(): OutboundProxySettings {
    return this.#proxy;
  }

  get identity(): ClientIdentity | undefined {
    return this.#identity;
  }

  /**
   * Uses `identity` from the next call on. Connections made with the old one
   * are closed, so that no keep-alive socket goes on presenting it.
   */
  setIdentity(identity: ClientIdentity): void {
    const old = this.#agent;
    this.#identity = identity;
    this.#agent = this.#makeAgent(identity);
    old.destroy();
  }

  /** A JSON call; resolves with the parsed body of a 2xx answer. */
  async call(options: CallOptions): Promise<unknown> {
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    const { response, context, clear, failure } = this.#start(options, timeoutMs);
    try {
      const res = await response;
      const text = await readLimitedBody(res, this.origin).catch((error: unknown) => {
        // A timeout or abort destroys the request; say that, not the reset it causes.
        throw failure() ?? mapTransportError(error, context);
      });
      const status = res.statusCode ?? 0;
      if (status < 200 || status > 299) throw mapHttpError(status, text, context);
      try {
        return JSON.parse(text) as unknown;
      } catch (error) {
        throw new ConnectorError(
          'ERR_SERVICE_BAD_RESPONSE',
          `${this.origin}${options.path} answered HTTP ${status} with something other than JSON: it is not the Gatehouse service, or a proxy rewrote the answer.`,
          { reason: 'not_json', cause: error },
        );
      }
    } finally {
      clear();
    }
  }

  /**
   * Opens a long-lived GET (the events stream) and resolves with the response
   * once it answered 200; the caller reads it and destroys it when done.
   */
  async openStream(options: StreamOptions): Promise<IncomingMessage> {
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    const { response, context, clear } = this.#start(
      { method: 'GET', path: options.path, ...(options.signal ? { signal: options.signal } : {}) },
      timeoutMs,
      'text/event-stream',
    );
    let res: IncomingMessage;
    try {
      res = await response;
    } finally {
      clear();
    }
    const status = res.statusCode ?? 0;
    if (status !== 200) {
      const text = await readLimitedBody(res, this.origin).catch(() => '');
      throw mapHttpError(status, text, context);
    }
    const type = res.headers['content-type'] ?? '';
    if (!/^text\/event-stream\b/i.test(type)) {
      res.destroy();
      throw new ConnectorError(
        'ERR_SERVICE_BAD_RESPONSE',
        `${this.origin}${options.path} answered with ${type || 'no content type'} instead of an event stream.`,
        { reason: 'not_event_stream' },
      );
    }
    return res;
  }

  /** Closes every connection. */
  close(): void {
    this.#agent.destroy();
    this.#anonymousAgent.destroy();
  }

  #makeAgent(identity: ClientIdentity | undefined): Agent {
    const options = {
      keepAlive: true,
      // The REST side of the listener is HTTP/1.1; the tunnel will use its own ALPN.
      ALPNProtocols: [CONNECTOR_API_ALPN],
      ...(this.#ca !== undefined ? { ca: this.#ca } : {}),
      ...(identity ? { key: identity.keyPem, cert: identity.certPem } : {}),
    };
    return this.#proxy.proxy ? new ProxiedHttpsAgent(options, this.#proxy, this.#timeoutMs) : new Agent(options);
  }

  #start(
    options: CallOptions,
    timeoutMs: number,
    accept = 'application/json',
  ): { response: Promise<IncomingMessage>; context: CallContext; clear: () => void; failure: () => ConnectorError | undefined } {
    const anonymous = options.anonymous === true || this.#identity === undefined;
    const context: CallContext = {
      serviceUrl: this.origin,
      withIdentity: !anonymous,
      withToken: options.bearer !== undefined,
    };
    const headers: Record<string, string> = { accept, 'user-agent': USER_AGENT };
    let payload: string | undefined;
    if (options.body !== undefined) {
      payload = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    if (options.bearer !== undefined) headers['authorization'] = `Bearer ${options.bearer}`;

    const req = httpsRequest({
      protocol: 'https:',
      hostname: this.url.hostname.replace(/^\[|\]$/g, ''),
      port: this.url.port === '' ? 443 : Number(this.url.port),
      method: options.method,
      path: options.path,
      headers,
      agent: anonymous ? this.#anonymousAgent : this.#agent,
    });
    // Small request/answer exchanges must not wait for Nagle (one-connection latency).
    req.on('socket', (socket: Socket) => socket.setNoDelay(true));

    let failed: ConnectorError | undefined;
    const fail = (error: ConnectorError): void => {
      failed ??= error;
      req.destroy(error);
    };
    const timer = setTimeout(() => fail(timeoutError(this.origin, timeoutMs)), timeoutMs);
    const onAbort = (): void => fail(abortError());
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const clear = (): void => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    };

    const response = new Promise<IncomingMessage>((resolve, reject) => {
      req.once('response', resolve);
      // `on`, not `once`: a late second error must not become an uncaught exception.
      req.on('error', (error) => reject(failed ?? mapTransportError(error, context)));
    });
    response.catch(clear);
    req.end(payload);
    return { response, context, clear, failure: () => failed };
  }
}

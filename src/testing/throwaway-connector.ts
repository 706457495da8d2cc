import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConnectorEvents } from '../connector/connector-events.ts';
import { registerConnector } from '../connector/register.ts';
import { runConnector } from '../connector/supervisor.ts';
import type { TunnelTransport } from '../connector/link-dialer.ts';
import type { Gateway } from '../gateway/create-gateway.ts';
import { MAX_TUNNELS_PER_CONNECTOR } from '../limits.ts';
import { TestingError } from './errors.ts';
import { testingHooksOf } from './testing-hooks.ts';

/** Options of `startThrowawayConnector()`. */
export interface ThrowawayConnectorOptions {
  /** A gateway created with `{ testing: true }` and `connectors` configured. */
  readonly gateway: Gateway;
  /**
   * An administrator's access token for the connector audience, as
   * `gatehouse-connector register --token` takes. The service checks it for
   * real (signature against the identity provider's keys, issuer, audience,
   * admin role): get one from your test identity provider.
   */
  readonly adminToken: string;
  /** Where the connector keeps its key and certificate. Default: a temporary folder, removed by stop(). */
  readonly stateDir?: string;
  /** Connector group to join. Default: the service's "default". */
  readonly group?: string;
  /** Label for administrators. Default "throwaway-connector". */
  readonly name?: string;
  /** Data-plane tunnels to keep open. Default 1. */
  readonly tunnels?: number;
  /** `tls` (HTTP/2 over TLS with ALPN, the default) or `websocket`. */
  readonly transport?: TunnelTransport;
  /** The connector listener's URL. Default: where the gateway's listener listens, on loopback. */
  readonly serviceUrl?: string;
  /** PEM CA of the listener's certificate. Default: the gateway's connector CA, which signs the development certificate. */
  readonly serviceCa?: string;
  /** How long to wait for the tunnels, ms. Default 15 000. */
  readonly timeoutMs?: number;
  /** The connector's progress lines (what `gatehouse-connector run` prints on stderr), for debugging a test. */
  readonly progress?: (line: string) => void;
}

/** A registered connector running in-process, from `startThrowawayConnector()`; `stop()` it after the test. */
export interface ThrowawayConnector {
  readonly connectorId: string;
  readonly group: string;
  readonly stateDir: string;
  /** Settles when the connector stops: resolves after stop(), rejects if it gave up on its own (e.g. revoked). */
  readonly stopped: Promise<void>;
  /** Drains the tunnels, stops the connector and removes the temporary state. Idempotent. */
  stop(): Promise<void>;
}

const DEFAULT_READY_TIMEOUT_MS = 15_000;
const READY_POLL_MS = 20;

/**
 * Registers a connector with the gateway's connector service and runs it in
 * this process, for tests that want the whole path: gateway → tunnel →
 * connector → backend. Nothing is short-cut: registration posts a real
 * certificate request with the admin token you supply, over TLS, to the
 * gateway's connector listener (opened on 127.0.0.1, port 0, if it is not
 * listening yet), and the connector then dials its tunnels with its client
 * certificate exactly as `gatehouse-connector run` does. Resolves once the
 * connector has its configuration and the gateway has its tunnels.
 */
export async function startThrowawayConnector(options: ThrowawayConnectorOptions): Promise<ThrowawayConnector> {
  const helper = 'startThrowawayConnector';
  testingHooksOf(options.gateway, helper);
  const service = options.gateway.connectors;
  if (!service) {
    throw new TestingError(
      'ERR_INVALID_ARG_VALUE',
      `${helper}: the gateway has no connector service. Configure \`connectors\` (e.g. { stateDir, listen: { host: '127.0.0.1', port: 0 } }) so that apps are reached through tunnels.`,
    );
  }
  if (typeof options.adminToken !== 'string' || options.adminToken.trim() === '') {
    throw new TestingError('ERR_INVALID_ARG_VALUE', `${helper}: adminToken must be an administrator's access token from your test identity provider`);
  }
  const tunnels = options.tunnels ?? 1;
  if (!Number.isInteger(tunnels) || tunnels < 1 || tunnels > MAX_TUNNELS_PER_CONNECTOR) {
    throw new TestingError('ERR_INVALID_ARG_VALUE', `${helper}: tunnels must be a whole number from 1 to ${MAX_TUNNELS_PER_CONNECTOR}`);
  }
  if (service.config.tls && options.serviceCa === undefined) {
    throw new TestingError(
      'ERR_INVALID_ARG_VALUE',
      `${helper}: the connector listener has its own certificate (connectors.tls): pass the CA that signs it as serviceCa`,
    );
  }

  const address = service.address() ?? (await service.listen(0, '127.0.0.1'));
  const serviceUrl = options.serviceUrl ?? `https://${loopbackHost(address)}:${address.port}`;
  const workDir = await mkdtemp(join(tmpdir(), 'gatehouse-throwaway-connector-'));
  const stateDir = options.stateDir ?? join(workDir, 'state');
  const stop = new AbortController();
  let running: Promise<void> | undefined;
  const cleanUp = async (): Promise<void> => {
    stop.abort();
    await running?.catch(() => undefined);
    await rm(workDir, { recursive: true, force: true });
  };

  try {
    const caFile = join(workDir, 'service-ca.pem');
    await writeFile(caFile, options.serviceCa ?? service.ca.certPem, { mode: 0o600 });
    const registered = await registerConnector({
      serviceUrl,
      token: options.adminToken,
      stateDir,
      caFile,
      name: options.name ?? 'throwaway-connector',
      ...(options.group !== undefined ? { group: options.group } : {}),
    });

    // The connector says when it has applied its configuration: before that it refuses every stream.
    // It runs in this process, so its typed events arrive as objects: nothing to parse, no output channel to keep apart.
    let configured = false;
    const events = new ConnectorEvents();
    events.once('configApplied', () => {
      configured = true;
    });
    running = runConnector({
      stateDir,
      signal: stop.signal,
      tunnels,
      transport: options.transport ?? 'tls',
      events,
      ...(options.progress ? { progress: options.progress } : {}),
    });
    let ended: { error: unknown } | undefined;
    running.then(
      () => (ended ??= { error: undefined }),
      (error: unknown) => (ended ??= { error }),
    );

    const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_READY_TIMEOUT_MS);
    const open = (): number => service.tunnels.sessions().filter((session) => session.connectorId === registered.connectorId).length;
    while (!(configured && open() >= tunnels)) {
      if (ended) {
        throw new Error(`${helper}: the connector stopped before its tunnels were up`, ended.error === undefined ? undefined : { cause: ended.error });
      }
      if (Date.now() > deadline) {
        throw new Error(
          `${helper}: the connector's ${tunnels} tunnel(s) were not up within ${options.timeoutMs ?? DEFAULT_READY_TIMEOUT_MS} ms (configuration applied: ${configured}, tunnels open: ${open()})`,
        );
      }
      await sleep(READY_POLL_MS);
    }

    const runningNow = running;
    let stopping: Promise<void> | undefined;
    return {
      connectorId: registered.connectorId,
      group: registered.group,
      stateDir,
      stopped: runningNow,
      stop() {
        stopping ??= cleanUp();
        return stopping;
      },
    };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}

// The development listener certificate names localhost and 127.0.0.1 (connector-service.ts).
function loopbackHost(address: AddressInfo): string {
  if (address.address === '0.0.0.0' || address.address === '::' || address.address.startsWith('127.')) return '127.0.0.1';
  if (address.address === '::1') return 'localhost';
  return address.family === 'IPv6' ? `[${address.address}]` : address.address;
}

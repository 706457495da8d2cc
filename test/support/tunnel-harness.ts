/**
 * The tunnel's parts wired together on 127.0.0.1 with real sockets and real
 * TLS, for tests:
 *
 * - a service side: a TLS listener with ALPN `gatehouse-tunnel/1` (and
 *   `http/1.1` for the WebSocket fallback) that asks for client certificates
 *   from a test connector CA, wraps accepted tunnels in TunnelSession and
 *   adds them to a TunnelPool;
 * - connectors: client certificates from that CA, tunnels dialled with
 *   dialTunnel and served by TunnelServer with an allow-list;
 * - a gateway: Express + http-proxy-middleware 4 with one TunnelAgent per app;
 * - origins: HTTP or HTTPS apps with routes for bodies, streams and aborts.
 */
import { createHash } from 'node:crypto';
import { once, type EventEmitter } from 'node:events';
import {
  createServer as createHttpServer,
  request as httpRequest,
  type Agent as HttpAgent,
  type ClientRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect as netConnect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { Readable, Writable, type Duplex } from 'node:stream';
import { pino, type Logger } from 'pino';
import { WebSocketServer } from 'ws';
import { TunnelServer, type ResolvedApp, type TunnelServerOptions } from '../../src/connector/stream-server.ts';
import { dialTunnel, type TunnelTransport } from '../../src/connector/link-dialer.ts';
import { sessionOnSocket } from '../../src/connector/data-link.ts';
import type { OutboundProxySettings } from '../../src/connector/proxy-settings.ts';
import { SERVICE_SESSIONS_READ_WHILE_WRITING } from '../../src/tunnel/h2-transport.ts';
import type { TunnelSession } from '../../src/tunnel/tunnel-session.ts';
import { digestBody } from '../../dev/lib/body-digest.ts';
import { patternStream } from '../../dev/lib/pattern-body.ts';
import type { ClientIdentity, TestPki } from '../../dev/lib/tunnel-pki.ts';
import type { ServiceSide } from '../../dev/lib/tunnel-service-side.ts';

// The tunnel tests send and check the one deterministic bulk body.
export { patternSha256, patternStream } from '../../dev/lib/pattern-body.ts';

// The PKI, the service side and the gateway live in dev/lib/, where the connector benchmark uses them too.
export { createTestPki, type ClientIdentity, type TestPki } from '../../dev/lib/tunnel-pki.ts';
export { startServiceSide, type ServiceSide, type ServiceSideOptions } from '../../dev/lib/tunnel-service-side.ts';
export { startGateway, type GatewayApp, type GatewaySide } from '../../dev/lib/tunnel-gateway.ts';

// ---- logs --------------------------------------------------------------------

export interface LogCapture {
  readonly logger: Logger;
  readonly lines: Array<Record<string, unknown>>;
  find(message: RegExp): Record<string, unknown> | undefined;
}

export function captureLogs(level = 'debug'): LogCapture {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines, find: (message) => lines.find((line) => message.test(String(line['msg']))) };
}

// ---- connectors --------------------------------------------------------------

/** How a connector runs its session against this service, whose sessions keep reading while they write (data-link.ts). */
function onThisService(transport: TunnelTransport): boolean {
  return sessionOnSocket(transport, { tunnelReadsWhileWriting: SERVICE_SESSIONS_READ_WHILE_WRITING });
}

export interface ConnectorSideOptions {
  readonly pki: TestPki;
  readonly service: ServiceSide;
  readonly connectorId: string;
  readonly group: string;
  /** The allow-list, or the function that consults it. */
  readonly apps: ReadonlyMap<string, ResolvedApp> | ((appId: string) => ResolvedApp | undefined);
  readonly tunnels?: number;
  readonly transport?: TunnelTransport;
  readonly serverOptions?: Partial<Omit<TunnelServerOptions, 'resolveApp'>>;
  /** Dial this port instead of the service's (a relay in between). */
  readonly dialPort?: number;
  /** Present this identity instead of the connector's own. */
  readonly identity?: ClientIdentity;
  /** Do not wait for the service to accept the tunnels. */
  readonly noWait?: boolean;
  /** Dial through this outbound proxy. */
  readonly proxy?: OutboundProxySettings;
}

export interface ConnectorSide {
  readonly connectorId: string;
  readonly servers: TunnelServer[];
  readonly sockets: Duplex[];
  /** The service's sessions for this connector (empty with noWait). */
  readonly sessions: TunnelSession[];
  readonly logs: LogCapture;
  /** Cuts every tunnel abruptly, as a crashed connector would. */
  kill(): void;
  drain(deadlineMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startConnectorSide(options: ConnectorSideOptions): Promise<ConnectorSide> {
  const logs = captureLogs();
  const identity = options.identity ?? options.pki.identity(options.connectorId, options.group);
  const servers: TunnelServer[] = [];
  const sockets: Duplex[] = [];
  const count = options.tunnels ?? 1;
  const { apps } = options;
  for (let i = 0; i < count; i++) {
    const socket = await dialTunnel({
      serviceUrl: `https://127.0.0.1:${options.dialPort ?? options.service.port}`,
      identity,
      ca: options.pki.caPem,
      transport: options.transport ?? 'tls',
      ...(options.proxy ? { proxy: options.proxy } : {}),
    });
    sockets.push(socket);
    servers.push(
      new TunnelServer(socket, {
        resolveApp: typeof apps === 'function' ? apps : (appId) => apps.get(appId),
        log: logs.logger.child({ connectorId: options.connectorId, tunnel: i }),
        sessionOnSocket: onThisService(options.transport ?? 'tls'),
        ...options.serverOptions,
      }),
    );
  }
  const sessions = options.noWait ? [] : await options.service.waitForTunnels(options.connectorId, count);
  return {
    connectorId: options.connectorId,
    servers,
    sockets,
    sessions,
    logs,
    kill() {
      for (const socket of sockets) socket.destroy();
    },
    async drain(deadlineMs) {
      await Promise.all(servers.map((server) => server.drain(deadlineMs)));
    },
    async close() {
      for (const server of servers) server.destroy();
      await Promise.all(servers.map((server) => server.closed));
    },
  };
}

/**
 * Connector-side tunnels dialled to a real connector listener (the stack's or
 * the connector-service harness's), without the rest of a connector: no
 * event stream, no renewal, no reconnecting. What the service does to such a
 * tunnel, it does on its own.
 */
export interface ListenerTunnelsOptions {
  /** The listener, e.g. stack.connectorUrl. */
  readonly serviceUrl: string;
  /** PEM that signs the listener's certificate. */
  readonly caPem: string;
  readonly identity: ClientIdentity;
  readonly transports: readonly TunnelTransport[];
  readonly apps?: ReadonlyMap<string, ResolvedApp>;
}

export interface ListenerTunnels {
  readonly servers: TunnelServer[];
  readonly logs: LogCapture;
  close(): Promise<void>;
}

export async function dialListenerTunnels(options: ListenerTunnelsOptions): Promise<ListenerTunnels> {
  const logs = captureLogs();
  const servers: TunnelServer[] = [];
  for (const [index, transport] of options.transports.entries()) {
    const socket = await dialTunnel({ serviceUrl: options.serviceUrl, identity: options.identity, ca: options.caPem, transport });
    servers.push(
      new TunnelServer(socket, {
        resolveApp: (appId) => options.apps?.get(appId),
        log: logs.logger.child({ tunnel: index, transport }),
        sessionOnSocket: onThisService(transport),
      }),
    );
  }
  return {
    servers,
    logs,
    async close() {
      for (const server of servers) server.destroy();
      await Promise.all(servers.map((server) => server.closed));
    },
  };
}

// ---- origins -----------------------------------------------------------------

export interface Origin {
  readonly port: number;
  readonly url: string;
  /** TCP connections accepted so far. */
  readonly connections: number;
  /** Resolves when the response of the request tagged `tag` closes. */
  closed(tag: string): Promise<{ finished: boolean }>;
  /** Resolves when the request tagged `tag` arrived. */
  arrived(tag: string): Promise<void>;
  /** Lets the request tagged `tag` go on. */
  release(tag: string): void;
  close(): Promise<void>;
}

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
}

function deferred<T>(): Deferred<T> {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * Routes:
 * - `GET /hello` → "hello from <name>"
 * - `POST /echo` → the body, streamed back (chunked)
 * - `GET /bytes?n=N` and `/chunked?n=N` → N pattern bytes, with and without Content-Length
 * - `POST /sha` → `{ bytes, sha256 }` of the body
 * - `GET /sse?tag=T` → one event, then a second once T is released
 * - `GET /endless?tag=T` → pattern bytes until the client goes away
 * - `GET /hold?tag=T` → answers once T is released
 * - `GET /gated?tag=T&n=N` → N/2 bytes, the rest once T is released
 * - `GET /reset` → resets the connection (TCP RST) before answering
 * - upgrade `/ws` → WebSocket echo
 */
export async function startOrigin(options: { name?: string; tls?: { cert: string; key: string } } = {}): Promise<Origin> {
  const name = options.name ?? 'origin';
  const closedTags = new Map<string, Deferred<{ finished: boolean }>>();
  const arrivedTags = new Map<string, Deferred<void>>();
  const releasedTags = new Map<string, Deferred<void>>();
  const of = <T>(map: Map<string, Deferred<T>>, tag: string): Deferred<T> => {
    let entry = map.get(tag);
    if (!entry) {
      entry = deferred<T>();
      map.set(tag, entry);
    }
    return entry;
  };
  let connections = 0;
  const sockets = new Set<Socket>();

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://origin');
    const tag = url.searchParams.get('tag') ?? '';
    const n = Number(url.searchParams.get('n') ?? '0');
    if (tag) {
      of(arrivedTags, tag).resolve();
      res.once('close', () => of(closedTags, tag).resolve({ finished: res.writableFinished }));
    }
    switch (url.pathname) {
      case '/hello':
        res.end(`hello from ${name}`);
        return;
      case '/echo':
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        req.pipe(res);
        return;
      case '/bytes':
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(n) });
        patternStream(n).pipe(res);
        return;
      case '/chunked':
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        patternStream(n).pipe(res);
        return;
      case '/sha': {
        digestBody(req).then(
          (digest) => {
            res.setHeader('content-type', 'application/json');
            res.end(JSON.stringify(digest));
          },
          () => res.destroy(),
        );
        return;
      }
      case '/sse':
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.write('data: first\n\n');
        void of(releasedTags, tag).promise.then(() => res.end('data: second\n\n'));
        return;
      case '/endless': {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        const source = patternStream(Number.MAX_SAFE_INTEGER);
        source.pipe(res);
        res.once('close', () => source.destroy());
        return;
      }
      case '/hold':
        void of(releasedTags, tag).promise.then(() => res.end('released'));
        return;
      case '/gated': {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(n) });
        const half = Math.floor(n / 2);
        const first = patternStream(half);
        first.pipe(res, { end: false });
        first.once('end', () => {
          void of(releasedTags, tag).promise.then(() => patternStream(n, half).pipe(res));
        });
        return;
      }
      case '/reset':
        req.socket.resetAndDestroy();
        return;
      default:
        res.statusCode = 404;
        res.end('not found');
    }
  };

  const server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, handler) : createHttpServer(handler);
  server.on('connection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const wss = new WebSocketServer({ server, path: '/ws', perMessageDeflate: false });
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    get connections() {
      return connections;
    },
    closed: (tag) => of(closedTags, tag).promise,
    arrived: (tag) => of(arrivedTags, tag).promise,
    release: (tag) => of(releasedTags, tag).resolve(),
    async close() {
      for (const client of wss.clients) client.terminate();
      wss.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

// ---- a TCP relay that can stop relaying -----------------------------------------

export interface Relay {
  readonly port: number;
  /** Stops moving bytes both ways without closing anything: a silent network. */
  freeze(): void;
  close(): Promise<void>;
}

export async function startRelay(targetPort: number): Promise<Relay> {
  const pairs = new Set<[Socket, Socket]>();
  let frozen = false;
  const server = createNetServer((client) => {
    const upstream = netConnect({ host: '127.0.0.1', port: targetPort });
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const relay = (from: Socket, to: Socket): void => {
      from.on('data', (chunk: Buffer) => {
        if (!frozen) to.write(chunk);
      });
      from.on('error', () => undefined);
      from.once('close', () => {
        // Frozen, the relay is a black hole: a close does not cross it either (close() cuts what is left).
        if (frozen) return;
        to.destroy();
        pairs.delete(pair);
      });
    };
    relay(client, upstream);
    relay(upstream, client);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    freeze() {
      frozen = true;
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      await closed;
    },
  };
}

// ---- an HTTP client ------------------------------------------------------------

export interface ClientResponse {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
}

export interface HashedResponse {
  readonly status: number;
  readonly bytes: number;
  readonly sha256: string;
}

export interface RequestOptions {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: Buffer | string | Readable;
  readonly agent?: HttpAgent | false;
}

/** One request to `url`; the answer is read whole (small bodies only). */
export function fetchBuffer(url: string, options: RequestOptions = {}): Promise<ClientResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers, agent: options.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.once('error', reject);
    });
    req.once('error', reject);
    sendBody(req, options.body);
  });
}

/** One request to `url`; the answer is hashed as it streams, never stored. */
export function fetchHashed(url: string, options: RequestOptions = {}): Promise<HashedResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers, agent: options.agent ?? false }, (res) => {
      const hash = createHash('sha256');
      let bytes = 0;
      res.pipe(
        new Writable({
          write(chunk: Buffer, _encoding, callback) {
            bytes += chunk.length;
            hash.update(chunk);
            callback();
          },
          final(callback) {
            resolve({ status: res.statusCode ?? 0, bytes, sha256: hash.digest('hex') });
            callback();
          },
        }),
      );
      res.once('error', reject);
    });
    req.once('error', reject);
    sendBody(req, options.body);
  });
}

function sendBody(req: ClientRequest, body: RequestOptions['body']): void {
  if (body instanceof Readable) body.pipe(req);
  else req.end(body);
}

/** Sum of listeners on every event of an emitter. */
export function listenerTotal(emitter: EventEmitter | Duplex): number {
  return emitter.eventNames().reduce((sum, name) => sum + emitter.listenerCount(name), 0);
}

/** Listener counts per event, for a readable assertion message. */
export function listenerCounts(emitter: EventEmitter | Duplex): Record<string, number> {
  return Object.fromEntries(emitter.eventNames().map((name) => [String(name), emitter.listenerCount(name)]));
}

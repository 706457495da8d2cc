/**
 * A small real forwarding proxy for tests: a node:http server that answers
 * `CONNECT host:port` by opening a TCP connection and piping bytes both ways,
 * as a corporate proxy does. It counts tunnels, records each target, can
 * require Basic credentials (407 otherwise), and can resolve names only it
 * knows (`hosts`), so that a client which skips the proxy cannot reach them.
 * Optionally it listens with TLS (an `https://` proxy).
 */
import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export interface ConnectProxyOptions {
  /** Require these credentials (Proxy-Authorization: Basic); without them: 407. */
  readonly credentials?: { readonly user: string; readonly password: string };
  /** Names only the proxy resolves: `name` → address (e.g. gatehouse.internal → 127.0.0.1). */
  readonly hosts?: Readonly<Record<string, string>>;
  /** Listen with TLS (an https:// proxy). */
  readonly tls?: { readonly cert: string; readonly key: string };
  /** Refuse every CONNECT with this status (e.g. 403). */
  readonly refuseWith?: number;
}

export interface ConnectProxy {
  /** e.g. http://127.0.0.1:PORT (no credentials). */
  readonly url: string;
  readonly port: number;
  /** Tunnels opened (2xx answered). */
  readonly tunnels: number;
  /** Every CONNECT target asked for, in order, as `host:port`, answered or not. */
  readonly targets: readonly string[];
  /** The Proxy-Authorization headers received, for a test that checks what was sent. */
  readonly authorizations: readonly string[];
  close(): Promise<void>;
}

function answer(socket: Duplex, status: number, reason: string, headers: Record<string, string> = {}): void {
  const lines = [
    `HTTP/1.1 ${status} ${reason}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    'Content-Length: 0',
    'Connection: close',
  ];
  socket.end(`${lines.join('\r\n')}\r\n\r\n`);
}

export async function startConnectProxy(options: ConnectProxyOptions = {}): Promise<ConnectProxy> {
  const targets: string[] = [];
  const authorizations: string[] = [];
  const open = new Set<Duplex>();
  let tunnels = 0;
  const server: Server = options.tls ? createHttpsServer({ cert: options.tls.cert, key: options.tls.key }) : createHttpServer();
  // Anything but CONNECT: this proxy forwards nothing in clear.
  server.on('request', (_req, res) => {
    res.writeHead(405, { 'content-type': 'text/plain' }).end('CONNECT only\n');
  });
  server.on('connect', (req: IncomingMessage, client: Duplex, head: Buffer) => {
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => undefined);
    const target = req.url ?? '';
    targets.push(target);
    const authorization = req.headers['proxy-authorization'];
    if (authorization !== undefined) authorizations.push(authorization);
    if (options.credentials) {
      const expected = `Basic ${Buffer.from(`${options.credentials.user}:${options.credentials.password}`).toString('base64')}`;
      if (authorization !== expected) {
        answer(client, 407, 'Proxy Authentication Required', { 'Proxy-Authenticate': 'Basic realm="test proxy"' });
        return;
      }
    }
    if (options.refuseWith !== undefined) {
      answer(client, options.refuseWith, 'Forbidden by policy');
      return;
    }
    const match = /^(.*):(\d+)$/.exec(target);
    if (!match) {
      answer(client, 400, 'Bad Request');
      return;
    }
    const name = match[1]!.replace(/^\[|\]$/g, '');
    const host = options.hosts?.[name] ?? name;
    const upstream: Socket = connect({ host, port: Number(match[2]) });
    open.add(upstream);
    upstream.on('close', () => open.delete(upstream));
    upstream.once('error', () => {
      if (!client.writableEnded) answer(client, 502, 'Bad Gateway');
      client.destroy();
    });
    upstream.once('connect', () => {
      tunnels += 1;
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    get tunnels() {
      return tunnels;
    },
    targets,
    authorizations,
    async close() {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

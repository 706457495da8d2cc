/**
 * A round-robin TCP load balancer on loopback, as a deployment puts in front
 * of several gateway instances: it passes TLS through untouched (the
 * gateways terminate it) and knows nothing of sessions, so there is no
 * stickiness. A backend that refuses the connection is skipped for that
 * connection, as a balancer's health check would.
 */
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface TcpBalancer {
  readonly port: number;
  /** How many connections went to each backend port. */
  readonly counts: ReadonlyMap<number, number>;
  close(): Promise<void>;
}

export async function startTcpBalancer(backendPorts: readonly number[]): Promise<TcpBalancer> {
  const counts = new Map<number, number>(backendPorts.map((port) => [port, 0]));
  const sockets = new Set<Socket>();
  let next = 0;
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };

  const connect = (client: Socket, attempt: number): void => {
    if (attempt >= backendPorts.length) {
      client.destroy();
      return;
    }
    const port = backendPorts[next++ % backendPorts.length]!;
    const upstream = createConnection({ host: '127.0.0.1', port });
    track(upstream);
    // Refused before it connected: try the next backend with the same client.
    const refused = (): void => connect(client, attempt + 1);
    upstream.once('error', refused);
    upstream.once('connect', () => {
      counts.set(port, (counts.get(port) ?? 0) + 1);
      upstream.off('error', refused);
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
      client.pipe(upstream).pipe(client);
      client.resume();
    });
  };

  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    track(client);
    connect(client, 0);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    counts,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

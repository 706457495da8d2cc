/**
 * What the service tells connected connectors outside their own calls: the
 * event streams it writes to, and the sockets it cuts on revocation.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * The live side of each connector on the REST listener: its open event
 * streams (Server-Sent Events) and every socket its calls came on, so that a
 * configuration change reaches it promptly and a revocation cuts it off at
 * once. Tunnels are not tracked here but in the TunnelPool, which closes them
 * with a notice the connector can read.
 */
export class ConnectorEvents {
  readonly #streams = new Map<string, Set<ServerResponse>>();
  readonly #sockets = new Map<string, Map<Socket, string>>();

  /** Remembers that `socket` authenticated as `connectorId` with the certificate `fingerprint256`. */
  trackSocket(connectorId: string, socket: Socket, fingerprint256: string): void {
    let sockets = this.#sockets.get(connectorId);
    if (!sockets) {
      sockets = new Map();
      this.#sockets.set(connectorId, sockets);
    }
    if (sockets.has(socket)) return;
    sockets.set(socket, fingerprint256);
    socket.once('close', () => {
      sockets.delete(socket);
      if (sockets.size === 0 && this.#sockets.get(connectorId) === sockets) this.#sockets.delete(connectorId);
    });
  }

  openStream(connectorId: string, res: ServerResponse): void {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    res.socket?.setNoDelay(true);
    let streams = this.#streams.get(connectorId);
    if (!streams) {
      streams = new Set();
      this.#streams.set(connectorId, streams);
    }
    streams.add(res);
    res.once('close', () => {
      streams.delete(res);
      if (streams.size === 0 && this.#streams.get(connectorId) === streams) this.#streams.delete(connectorId);
    });
  }

  connectedIds(): string[] {
    return [...this.#streams.keys()];
  }

  isConnected(connectorId: string): boolean {
    return (this.#streams.get(connectorId)?.size ?? 0) > 0;
  }

  send(connectorId: string, event: string, data: object): void {
    for (const res of this.#streams.get(connectorId) ?? []) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  broadcast(event: string, data: object): void {
    for (const id of this.#streams.keys()) this.send(id, event, data);
  }

  ping(): void {
    for (const streams of this.#streams.values()) for (const res of streams) res.write(': ping\n\n');
  }

  /** Closes every socket of a connector: on revocation, nothing it opened stays open. */
  disconnect(connectorId: string, event?: string): void {
    for (const res of this.#streams.get(connectorId) ?? []) {
      if (event) res.write(`event: ${event}\ndata: {}\n\n`);
      res.end();
    }
    // At once, not on 'close': an event sent meanwhile (the config bump a revocation makes) would be written after the end.
    this.#streams.delete(connectorId);
    for (const socket of this.#sockets.get(connectorId)?.keys() ?? []) socket.destroy();
  }

  /** Every tracked socket with its connector and the certificate it authenticated with. */
  *trackedSockets(): Generator<{ readonly connectorId: string; readonly socket: Socket; readonly fingerprint256: string }> {
    for (const [connectorId, sockets] of this.#sockets) {
      for (const [socket, fingerprint256] of sockets) yield { connectorId, socket, fingerprint256 };
    }
  }

  closeAll(): void {
    for (const id of [...this.#streams.keys(), ...this.#sockets.keys()]) this.disconnect(id);
  }
}

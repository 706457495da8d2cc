import { connect, type ConnectionOptions } from 'node:tls';

/** What came back for one fuzz case, and how the connection ended. */
export interface Exchange {
  readonly received: Buffer;
  /** The peer closed (or reset) the connection within the bound. */
  readonly closed: boolean;
  /** The peer closed before we said we would send nothing more: it refused what it got, not our silence. */
  readonly closedByPeerFirst: boolean;
  /** The TLS handshake itself failed. */
  readonly handshakeFailed: boolean;
}

export interface ExchangeOptions {
  readonly port: number;
  readonly ca: string;
  readonly alpn: readonly string[];
  readonly payload: Buffer;
  readonly cert?: string;
  readonly key?: string;
  /** A loopback source address: each case can come from its own client, so rate limits do not hide the parser. */
  readonly localAddress?: string;
  /** Silence after which we half-close: nothing more will come from us. */
  readonly quietMs?: number;
  /** After the half-close, how long the peer has to finish and close. */
  readonly boundMs?: number;
}

/**
 * Sends bytes as given over TLS, reads until the peer goes quiet, says it will send nothing more, and waits (bounded)
 * for the peer to close. A peer that keeps the connection open past the bound is reported, not waited for.
 */
export function exchange(options: ExchangeOptions): Promise<Exchange> {
  const quietMs = options.quietMs ?? 300;
  const boundMs = options.boundMs ?? 10_000;
  return new Promise((resolve) => {
    const tlsOptions: ConnectionOptions = {
      host: '127.0.0.1',
      port: options.port,
      ca: options.ca,
      servername: 'localhost',
      ALPNProtocols: [...options.alpn],
      ...(options.cert !== undefined ? { cert: options.cert, key: options.key } : {}),
      ...(options.localAddress !== undefined ? { localAddress: options.localAddress } : {}),
    };
    const socket = connect(tlsOptions);
    const chunks: Buffer[] = [];
    let secure = false;
    let settled = false;
    let halfClosed = false;
    let quiet: NodeJS.Timeout | undefined;
    let bound: NodeJS.Timeout | undefined;
    const finish = (closed: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(quiet);
      clearTimeout(bound);
      socket.destroy();
      resolve({ received: Buffer.concat(chunks), closed, closedByPeerFirst: closed && !halfClosed, handshakeFailed: !secure });
    };
    const armQuiet = (): void => {
      clearTimeout(quiet);
      quiet = setTimeout(() => {
        halfClosed = true;
        if (!socket.writableEnded) socket.end();
        bound ??= setTimeout(() => finish(false), boundMs);
      }, quietMs);
    };
    socket.on('secureConnect', () => {
      secure = true;
      socket.write(options.payload, () => armQuiet());
    });
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (!socket.writableEnded) armQuiet();
    });
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('end', () => finish(true));
  });
}

/** The status of the first HTTP/1.1 response in `bytes`, or undefined when there is none. */
export function firstStatus(bytes: Buffer): number | undefined {
  const match = /^HTTP\/1\.1 (\d{3}) /.exec(bytes.subarray(0, 32).toString('latin1'));
  return match ? Number(match[1]) : undefined;
}

/** Every HTTP/1.1 status line in `bytes` (pipelined requests get several answers). */
export function statuses(bytes: Buffer): number[] {
  return [...bytes.toString('latin1').matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => Number(match[1]));
}

/** How many TCP sockets this process holds open, for leak checks. */
export function openSockets(): number {
  return process.getActiveResourcesInfo().filter((name) => name === 'TCPSocketWrap' || name === 'TLSWrap').length;
}

/** Waits until `check` holds, polling, or fails after `timeoutMs` with `message`. */
export async function eventually(check: () => boolean, timeoutMs: number, message: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(message());
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

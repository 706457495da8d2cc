import { connect } from 'node:tls';

/** How a slow client's connection ended: what the gateway answered, and when the connection closed (ms after it opened; undefined: still open when the client gave up). */
export interface SlowOutcome {
  readonly answer: string;
  readonly closedAfterMs: number | undefined;
  /** Bytes of the request the client had sent when the connection ended. */
  readonly sent: number;
}

export interface SlowClientOptions {
  readonly port: number;
  readonly servername: string;
  readonly ca: string;
  /** The request head, with its blank line. */
  readonly head: string;
  /** Sends the head one byte every this many milliseconds (a slowloris); absent, at once. */
  readonly headDripMs?: number;
  /** Then sends body bytes, `bodyChunk` of them every `bodyDripMs`, forever. */
  readonly bodyDripMs?: number;
  readonly bodyChunk?: number;
  /** Stops sending after this many body bytes (an honest upload). */
  readonly bodyBytes?: number;
  /** The client hangs up after this long and reports the connection as still open. */
  readonly giveUpMs: number;
}

/**
 * One client over TLS that sends its request slowly, on a timer, and reads
 * whatever the gateway answers until the connection closes. Write errors (the
 * gateway cut the connection) end the sending, not the client.
 */
export function slowClient(options: SlowClientOptions): Promise<SlowOutcome> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: options.port, servername: options.servername, ca: options.ca });
    const chunks: Buffer[] = [];
    let openedAt = 0;
    let sent = 0;
    let drip: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = (closed: boolean): void => {
      if (settled) return;
      settled = true;
      clearInterval(drip);
      clearTimeout(giveUp);
      socket.destroy();
      resolve({ answer: Buffer.concat(chunks).toString('latin1'), closedAfterMs: closed ? performance.now() - openedAt : undefined, sent });
    };
    const giveUp = setTimeout(() => finish(false), options.giveUpMs);
    const write = (bytes: string): void => {
      if (socket.destroyed || !socket.writable) return;
      socket.write(bytes);
      sent += bytes.length;
    };
    const sendBody = (): void => {
      if (options.bodyDripMs === undefined) return;
      const chunk = 'x'.repeat(options.bodyChunk ?? 1);
      let bodySent = 0;
      drip = setInterval(() => {
        if (options.bodyBytes !== undefined && bodySent >= options.bodyBytes) return clearInterval(drip);
        write(chunk);
        bodySent += chunk.length;
      }, options.bodyDripMs);
    };
    socket.once('secureConnect', () => {
      openedAt = performance.now();
      if (options.headDripMs === undefined) {
        write(options.head);
        sendBody();
        return;
      }
      let at = 0;
      drip = setInterval(() => {
        write(options.head.charAt(at));
        at += 1;
        if (at >= options.head.length) {
          clearInterval(drip);
          sendBody();
        }
      }, options.headDripMs);
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
  });
}

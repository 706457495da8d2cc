import { connect, type TLSSocket } from 'node:tls';

/** A header exactly as sent: name spelled as given, duplicates kept. */
export type RawHeader = readonly [name: string, value: string];

export interface RawResponse {
  readonly status: number;
  /** Lower-cased names; repeated headers in order. */
  readonly headers: ReadonlyArray<RawHeader>;
  readonly body: string;
  header(name: string): string | undefined;
  all(name: string): string[];
}

export interface RawTarget {
  readonly port: number;
  /** The published host, e.g. wiki.gatehouse.test:1234 (SNI is its name). */
  readonly host: string;
  readonly ca: string | string[];
}

/**
 * One HTTP/1.1 request over TLS with the header list exactly as given (case,
 * underscores, duplicates, Connection lists, Expect), the way an attacker's
 * client sends it; `Connection: close` is not added, so tests choose it.
 */
export async function rawRequest(target: RawTarget, method: string, path: string, headers: readonly RawHeader[], body = ''): Promise<RawResponse> {
  const socket = await open(target);
  const lines = [`${method} ${path} HTTP/1.1`, `Host: ${target.host}`, ...headers.map(([name, value]) => `${name}: ${value}`)];
  if (body) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  socket.write(`${lines.join('\r\n')}\r\n\r\n${body}`);
  const raw = await readAll(socket, 10_000);
  return parseResponse(raw.toString('latin1'));
}

export interface RawUpgrade {
  readonly response: RawResponse;
  /** The first WebSocket text message the backend sent after the 101, if any. */
  readonly firstMessage: string | undefined;
}

/** A WebSocket handshake with the header list exactly as given; reads the answer and, after a 101, the first message. */
export async function rawUpgrade(target: RawTarget, path: string, headers: readonly RawHeader[]): Promise<RawUpgrade> {
  const socket = await open(target);
  const lines = [
    `GET ${path} HTTP/1.1`,
    `Host: ${target.host}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    'Sec-WebSocket-Version: 13',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    ...headers.map(([name, value]) => `${name}: ${value}`),
  ];
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  let buffered = Buffer.alloc(0);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(), 10_000);
    const finish = (): void => {
      clearTimeout(timer);
      socket.destroy();
      const text = buffered.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const response = parseResponse(end < 0 ? text : text.slice(0, end + 4));
      resolve({ response: { ...response, body: end < 0 ? '' : text.slice(end + 4) }, firstMessage: undefined });
    };
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      const response = parseResponse(buffered.subarray(0, end + 4).toString('latin1'));
      if (response.status !== 101) return;
      const message = readTextFrame(buffered.subarray(end + 4));
      if (message === undefined) return;
      clearTimeout(timer);
      socket.destroy();
      resolve({ response, firstMessage: message });
    });
    socket.on('error', (error: Error) => (buffered.length > 0 ? finish() : reject(error)));
    socket.on('close', finish);
  });
}

function open(target: RawTarget): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: target.port, servername: target.host.split(':')[0], ca: target.ca });
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

function readAll(socket: TLSSocket, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks));
    };
    const timer = setTimeout(done, timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      // One response is enough: stop at its end when its length is known.
      const text = skipInterim(Buffer.concat(chunks).toString('latin1'));
      const end = text.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end))?.[1];
      if (end >= 0 && length !== undefined && Buffer.byteLength(text.slice(end + 4), 'latin1') >= Number(length)) done();
    });
    socket.on('error', done);
    socket.on('close', done);
  });
}

/** Interim answers (`100 Continue`, `103 Early Hints`) that precede the final one, as they were sent. */
export function interimHeads(text: string): string[] {
  const heads: string[] = [];
  let rest = text;
  while (/^HTTP\/1\.[01] 1(?!01)\d\d/.test(rest)) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    heads.push(rest.slice(0, end));
    rest = rest.slice(end + 4);
  }
  return heads;
}

function skipInterim(text: string): string {
  const heads = interimHeads(text);
  return heads.reduce((rest, head) => rest.slice(head.length + 4), text);
}

function parseResponse(full: string): RawResponse {
  const text = skipInterim(full);
  const end = text.indexOf('\r\n\r\n');
  const head = end < 0 ? text : text.slice(0, end);
  let body = end < 0 ? '' : text.slice(end + 4);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: RawHeader[] = lines
    .filter((line) => line.includes(':'))
    .map((line) => [line.slice(0, line.indexOf(':')).trim().toLowerCase(), line.slice(line.indexOf(':') + 1).trim()] as const);
  if (headers.some(([name, value]) => name === 'transfer-encoding' && /chunked/i.test(value))) body = dechunk(body);
  return {
    status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0),
    headers,
    body,
    header: (name) => headers.find(([key]) => key === name.toLowerCase())?.[1],
    all: (name) => headers.filter(([key]) => key === name.toLowerCase()).map(([, value]) => value),
  };
}

function dechunk(body: string): string {
  let out = '';
  let rest = body;
  for (;;) {
    const line = rest.indexOf('\r\n');
    if (line < 0) return out;
    const size = parseInt(rest.slice(0, line), 16);
    if (!size) return out;
    out += rest.slice(line + 2, line + 2 + size);
    rest = rest.slice(line + 2 + size + 2);
  }
}

/** An unmasked server-to-client text frame, if a whole one is there. */
function readTextFrame(bytes: Buffer): string | undefined {
  if (bytes.length < 2) return undefined;
  let length = (bytes[1] ?? 0) & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (bytes.length < 4) return undefined;
    length = bytes.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (bytes.length < 10) return undefined;
    length = Number(bytes.readBigUInt64BE(2));
    offset = 10;
  }
  if (bytes.length < offset + length) return undefined;
  return bytes.subarray(offset, offset + length).toString('utf8');
}

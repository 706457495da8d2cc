/**
 * What carrying each request as an HTTP/2 request of the tunnel would cost
 * against HTTP/1.1 inside a kept-alive CONNECT stream, as Gatehouse carries
 * requests. Everything in one process, one request at a time, so that the time
 * per request is the CPU all parts spend on it, with no second process to wake:
 *
 *   connect   Node's HTTP client, its one keep-alive connection a CONNECT stream that the HTTP/2 server
 *             splices to a connection to the backend (node:http, 1 KiB): the tunnel's shape
 *   h2-only   a new HTTP/2 stream per request, answered (1 KiB) by the HTTP/2 server itself: what a stream
 *             costs, with no backend at all
 *   h2-relay  a new HTTP/2 stream per request, which the HTTP/2 server makes to the backend with
 *             `http.request` on a keep-alive agent: HTTP/2 requests on the tunnel
 *
 *   node bench/tunnel-framing.ts [--requests 3000] [--rounds 5]
 *
 * Rounds alternate the three; each figure is the median over the rounds, with the range.
 */
import { once } from 'node:events';
import { Agent, createServer, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { connect as h2connect, createServer as createH2Server, type ClientHttp2Session } from 'node:http2';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { tunnelSessionOptions } from '../src/tunnel/http2-settings.ts';
import { ConnectAgent, streamAsSocket } from './lib/connect-agent.ts';
import { median } from './lib/rounds.ts';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '3000' }, rounds: { type: 'string', default: '5' } } });
const REQUESTS = Number(values.requests);
const ROUNDS = Number(values.rounds);
const BODY = Buffer.alloc(1024, 'x');

const backend = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': BODY.length });
  res.end(BODY);
});
backend.listen(0, '127.0.0.1');
await once(backend, 'listening');
const backendPort = (backend.address() as AddressInfo).port;
const agent = new Agent({ keepAlive: true });

const server = createH2Server(tunnelSessionOptions(1000));
server.on('stream', (stream, headers) => {
  if (headers[':method'] === 'CONNECT') {
    const socket = netConnect({ port: backendPort, host: '127.0.0.1', noDelay: true }, () => {
      stream.respond({ ':status': 200 });
      stream.pipe(socket);
      socket.pipe(stream);
    });
    stream.on('close', () => socket.destroy());
    return;
  }
  if (headers[':path'] === '/h2-only') {
    stream.respond({ ':status': 200, 'content-type': 'text/plain', 'content-length': BODY.length });
    stream.end(BODY);
    return;
  }
  const upstream = httpRequest({ agent, host: '127.0.0.1', port: backendPort, method: 'GET', path: '/1k' }, (response) => {
    const answer: OutgoingHttpHeaders = { ':status': response.statusCode ?? 502 };
    for (const name of ['content-type', 'content-length']) answer[name] = response.headers[name];
    stream.respond(answer);
    response.pipe(stream);
  });
  upstream.end();
});
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const session: ClientHttp2Session = h2connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, tunnelSessionOptions(1000));
await once(session, 'connect');

async function connectRound(): Promise<number> {
  // Node's HTTP client on one kept-alive CONNECT stream (as Gatehouse's tunnel agent, without its bookkeeping): the same
  // one HTTP/1.1 client per request as the relay's in h2-relay.
  const connectAgent = new ConnectAgent(() => streamAsSocket(session.request({ ':method': 'CONNECT', ':authority': `127.0.0.1:${backendPort}` })), {
    maxSockets: 1,
  });
  const started = performance.now();
  for (let n = 0; n < REQUESTS; n++) {
    const response = await new Promise<IncomingMessage>((resolve, reject) =>
      httpRequest({ agent: connectAgent, host: '127.0.0.1', port: backendPort, path: '/1k' }, resolve).on('error', reject).end(),
    );
    let bytes = 0;
    response.on('data', (chunk: Buffer) => (bytes += chunk.length));
    await once(response, 'end');
    if (bytes !== BODY.length) throw new Error(`connect: ${bytes} bytes`);
  }
  const ms = (performance.now() - started) / REQUESTS;
  connectAgent.destroy();
  return ms;
}

async function streamsRound(path: string): Promise<number> {
  const started = performance.now();
  for (let n = 0; n < REQUESTS; n++) {
    const stream = session.request({ ':method': 'GET', ':path': path }, { endStream: true });
    let bytes = 0;
    stream.on('data', (chunk: Buffer) => (bytes += chunk.length));
    await once(stream, 'end');
    if (bytes !== BODY.length) throw new Error(`${path}: ${bytes} bytes`);
  }
  return (performance.now() - started) / REQUESTS;
}

const shapes: Record<string, () => Promise<number>> = {
  connect: connectRound,
  'h2-only': () => streamsRound('/h2-only'),
  'h2-relay': () => streamsRound('/h2-relay'),
};
const results = new Map<string, number[]>(Object.keys(shapes).map((key) => [key, []]));
// One round of each first, unmeasured: the JIT.
for (const run of Object.values(shapes)) await run();
for (let round = 0; round < ROUNDS; round++) {
  const keys = Object.keys(shapes);
  for (let index = 0; index < keys.length; index++) {
    const key = keys[(index + round) % keys.length]!;
    const ms = await shapes[key]!();
    results.get(key)!.push(ms);
    process.stderr.write(`round ${round + 1} ${key}: ${(ms * 1000).toFixed(0)} µs per request\n`);
  }
}
const lines = ['| shape | µs per request, one process | range |', '|---|---:|---|'];
for (const [key, runs] of results)
  lines.push(`| ${key} | ${(median(runs) * 1000).toFixed(0)} | ${(Math.min(...runs) * 1000).toFixed(0)}–${(Math.max(...runs) * 1000).toFixed(0)} |`);
process.stdout.write(`${lines.join('\n')}\n`);
session.close();
server.close();
backend.close();
agent.destroy();

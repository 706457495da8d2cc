/**
 * What a tunnel through a second Node process costs at the least, whatever the
 * product around it, and which of Gatehouse's pieces add what. Proxies of
 * 1 KiB GETs behind the same kind of HTTPS listener, all to the one backend
 * (bench/backend.ts), measured like `npm run bench` (wrk -t1, interleaved
 * rounds, CPU per request from the scheduler's counts):
 *
 *   hpm         bench/direct-proxy.ts: Express + http-proxy-middleware, the main benchmark's baseline
 *   direct      a proxy of a dozen lines on node:http (`http.request` with a keep-alive agent): the floor of one hop
 *   connect     the same proxy, its upstream connections CONNECT streams of one HTTP/2 session over TLS to a relay
 *               process that splices each to a TCP connection to the backend: HTTP/1.1 inside the tunnel, as
 *               Gatehouse carries requests
 *   gw-pass     Gatehouse's service (bench/gateway-service.ts), pass-through app, forwarding direct to the backend
 *   tunnel-pass the same service and app through a Gatehouse connector with one tunnel (TLS): the product itself
 *
 * `direct` and `connect` take modifiers, in any number: +wa runs both HTTP/2 sessions on the write-ahead stream
 * (src/connector/write-ahead.ts) over their TLS sockets, +ss hands each CONNECT stream to the HTTP client inside
 * Gatehouse's StreamSocket, +hpm makes Express + http-proxy-middleware the front's handler: connect+wa+ss+hpm is
 * every transport piece Gatehouse uses and none of its logic. (HTTP/2 requests in place of CONNECT streams:
 * bench/tunnel-framing.ts.)
 *
 * None of them checks anything, frames errors or watches timeouts: this is the
 * least work each shape can do, not a proxy to run. The HTTP/2 sessions use the
 * tunnel's own settings (src/tunnel/http2-settings.ts).
 *
 *   node bench/tunnel-floor.ts [--concurrency 1,16,64] [--seconds 8] [--settle 2] [--rounds 3] [--variants hpm,direct,connect,connect+wa]
 *       [--transfers N]   then N downloads and N uploads of 256 MiB per variant (after one of each to warm up), in rotating
 *                         order, through bench/loadgen.ts (SHA-256 checked): MB/s, median
 *
 * Roles (started by the orchestrator above): --role front|relay.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { connect as h2connect, createSecureServer, performServerHandshake, type ClientHttp2Session, type ServerHttp2Stream } from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, createServer as createTlsServer } from 'node:tls';
import express from 'express';
import { createProxyMiddleware } from 'http-proxy-middleware';
import { WriteAhead } from '../src/connector/write-ahead.ts';
import { StreamSocket } from '../src/tunnel/stream-socket.ts';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createDevCa } from '../dev/lib/dev-ca.ts';
import { tunnelSessionOptions, widenConnectionWindow } from '../src/tunnel/http2-settings.ts';
import type { BackendInfo } from './backend.ts';
import type { DirectProxyInfo } from './direct-proxy.ts';
import type { TransferResult } from './loadgen.ts';
import type { GatewayServiceInfo } from './gateway-service.ts';
import { registerConnector, runConnector } from './lib/connector.ts';
import type { RunningProcess } from '../dev/lib/processes.ts';
import { startChild, serveParent, type Child } from './lib/child.ts';
import { ConnectAgent, streamAsSocket } from './lib/connect-agent.ts';
import { median } from './lib/rounds.ts';
import { loadAverage1, threadCpuNs } from './lib/thread-cpu.ts';
import { runWrk } from './lib/wrk.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const HOST = 'floor.bench.test';

interface FrontFlags {
  readonly writeAhead: boolean;
  readonly streamSocket: boolean;
  readonly express: boolean;
}

interface RoleInfo {
  readonly url: string;
  readonly pid: number;
}

const { values } = parseArgs({
  options: {
    role: { type: 'string' },
    backend: { type: 'string' },
    relay: { type: 'string' },
    framing: { type: 'string' },
    'write-ahead': { type: 'boolean', default: false },
    'stream-socket': { type: 'boolean', default: false },
    express: { type: 'boolean', default: false },
    dir: { type: 'string' },
    concurrency: { type: 'string', default: '1,16,64' },
    seconds: { type: 'string', default: '8' },
    settle: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    variants: { type: 'string', default: 'hpm,direct,connect,connect+wa' },
    transfers: { type: 'string', default: '0' },
  },
});

/** Headers that belong to one connection, never forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'te']);

function endToEnd(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (HOP_BY_HOP.has(name) || value === undefined) continue;
    out[name] = value;
  }
  return out;
}

function tlsFiles(dir: string): { key: Buffer; cert: Buffer; ca: Buffer } {
  return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')), ca: readFileSync(join(dir, 'ca.pem')) };
}

/** The relay: an HTTP/2 server over TLS that splices each CONNECT stream to a connection to the backend. */
async function relay(backend: URL, dir: string, writeAhead: boolean): Promise<void> {
  const { key, cert } = tlsFiles(dir);
  const onStream = (stream: ServerHttp2Stream): void => {
    const socket = netConnect({ host: backend.hostname, port: Number(backend.port), noDelay: true });
    socket.once('connect', () => {
      stream.respond({ ':status': 200 });
      stream.pipe(socket).on('error', () => undefined);
      socket.pipe(stream);
    });
    socket.on('error', () => stream.destroy());
    stream.on('error', () => socket.destroy());
    stream.on('close', () => socket.destroy());
  };
  // With --write-ahead, the session runs on the connector's write-ahead stream over the TLS socket, as Gatehouse's do.
  const server = writeAhead
    ? createTlsServer({ key, cert, ALPNProtocols: ['h2'] }, (socket) => {
        socket.setNoDelay(true);
        const session = performServerHandshake(new WriteAhead(socket), tunnelSessionOptions(1000));
        widenConnectionWindow(session);
        session.on('stream', onStream);
      })
    : createSecureServer({ key, cert, ...tunnelSessionOptions(1000) })
        .on('session', (session) => widenConnectionWindow(session))
        .on('stream', onStream);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  serveParent<RoleInfo>({ url: `https://127.0.0.1:${port}`, pid: process.pid }, {}, () => {
    server.close();
    return Promise.resolve();
  });
}

/** The front: HTTPS for clients, then the backend, direct or through CONNECT streams to the relay. */
async function front(backend: URL, framing: string, relayUrl: string | undefined, dir: string, flags: FrontFlags): Promise<void> {
  const { key, cert, ca } = tlsFiles(dir);
  let session: ClientHttp2Session | undefined;
  if (framing !== 'direct') {
    const relayAt = new URL(relayUrl!);
    const createConnection = (): Duplex => {
      const socket = tlsConnect({ host: relayAt.hostname, port: Number(relayAt.port), ca, servername: HOST, ALPNProtocols: ['h2'] });
      socket.setNoDelay(true);
      return new WriteAhead(socket);
    };
    session = h2connect(relayUrl!, { ca, servername: HOST, ...tunnelSessionOptions(1000), ...(flags.writeAhead ? { createConnection } : {}) });
    await once(session, 'connect');
    widenConnectionWindow(session);
  }
  const connectStream = (): Duplex => {
    const stream = session!.request({ ':method': 'CONNECT', ':authority': backend.host });
    // With --stream-socket, as Gatehouse's tunnel agent: the stream inside its socket-shaped Duplex.
    return flags.streamSocket ? new StreamSocket(stream, { connectorId: 'floor', appId: 'floor', tunnelClosing: () => undefined }) : streamAsSocket(stream);
  };
  const agent = framing === 'connect' ? new ConnectAgent(connectStream) : new Agent({ keepAlive: true, maxFreeSockets: 1024 });
  // With --express, the handler is what bench/direct-proxy.ts serves: Express and http-proxy-middleware, on this agent.
  const app = express();
  app.disable('x-powered-by');
  app.use(createProxyMiddleware({ target: backend.origin, agent, changeOrigin: true, xfwd: false }));
  const server = createHttpsServer({ key, cert }, (req, res) => {
    if (flags.express) {
      app(req, res);
      return;
    }
    const fail = (): void => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    };
    const upstream = httpRequest(
      { agent, host: backend.hostname, port: backend.port, method: req.method, path: req.url, headers: endToEnd(req.headers) },
      (response) => {
        res.writeHead(response.statusCode ?? 502, endToEnd(response.headers));
        response.pipe(res);
      },
    );
    upstream.on('error', fail);
    req.pipe(upstream);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  serveParent<RoleInfo>({ url: `https://127.0.0.1:${port}`, pid: process.pid }, {}, () => {
    server.close();
    session?.close();
    return Promise.resolve();
  });
}

interface Variant {
  readonly key: string;
  readonly url: string;
  readonly host: string;
  /** The CA of the front's certificate, for the transfers' TLS check. */
  readonly caFile: string;
  readonly pids: readonly number[];
}

interface Row {
  readonly key: string;
  readonly connections: number;
  readonly rps: number;
  readonly p99Ms: number;
  readonly us: number;
  readonly each: readonly number[];
  readonly backendUs: number;
  readonly errors: number;
}

const TRANSFER_BYTES = 256 * 1024 * 1024;

/** One 256 MiB download or upload through `variant`, by bench/loadgen.ts in a process of its own: MB/s. */
async function transfer(variant: Variant, kind: 'download' | 'upload'): Promise<number> {
  const args = [join(HERE, 'loadgen.ts'), kind, '--origin', variant.url, '--host', variant.host, '--ca', variant.caFile, '--bytes', String(TRANSFER_BYTES)];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  const result = JSON.parse(out.trim().split('\n').pop() ?? '{}') as Partial<TransferResult>;
  if (code !== 0 || result.ok !== true) throw new Error(`${variant.key} ${kind} failed (${code}): ${out}`);
  return result.mbps!;
}

async function measureTransfers(variants: readonly Variant[], runs: number): Promise<string[]> {
  const results = new Map<string, { download: number[]; upload: number[] }>(variants.map((variant) => [variant.key, { download: [], upload: [] }]));
  for (const variant of variants) {
    process.stderr.write(`tunnel-floor: warming up ${variant.key} with a transfer each way\n`);
    for (const kind of ['download', 'upload'] as const) await transfer(variant, kind);
  }
  for (let run = 0; run < runs; run++) {
    for (let index = 0; index < variants.length; index++) {
      const variant = variants[(index + run) % variants.length]!;
      for (const kind of ['download', 'upload'] as const) {
        const mbps = await transfer(variant, kind);
        results.get(variant.key)![kind].push(mbps);
        process.stderr.write(`${variant.key.padEnd(8)} ${kind.padEnd(8)} run ${run + 1}: ${Math.round(mbps)} MB/s\n`);
      }
    }
  }
  const hpm = results.get('hpm');
  const lines = ['| variant | download MB/s | × hpm | upload MB/s | × hpm | runs (down; up) |', '|---|---:|---:|---:|---:|---|'];
  for (const variant of variants) {
    const { download, upload } = results.get(variant.key)!;
    const ratio = (value: number, of: number[] | undefined): string => (of === undefined ? '–' : (value / median(of)).toFixed(2));
    lines.push(
      `| ${variant.key} | ${Math.round(median(download))} | ${ratio(median(download), hpm?.download)} | ${Math.round(median(upload))} | ${ratio(median(upload), hpm?.upload)} | ${download.map(Math.round).join(', ')}; ${upload.map(Math.round).join(', ')} |`,
    );
  }
  return lines;
}

async function orchestrate(): Promise<void> {
  const concurrencies = values.concurrency.split(',').map(Number);
  const seconds = Number(values.seconds);
  const settle = Number(values.settle);
  const rounds = Number(values.rounds);
  const wanted = values.variants.split(',');
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-floor-'));
  const children: Child<RoleInfo | BackendInfo | DirectProxyInfo | GatewayServiceInfo>[] = [];
  const connectors: RunningProcess[] = [];
  const stateDirs: string[] = [];
  try {
    process.stderr.write('tunnel-floor: making certificates and starting the processes\n');
    const devCa = createDevCa({ commonName: 'Gatehouse bench CA' });
    const issued = devCa.issueServerCertificate([HOST, '127.0.0.1']);
    writeFileSync(join(dir, 'key.pem'), issued.keyPem);
    writeFileSync(join(dir, 'cert.pem'), issued.certPem);
    writeFileSync(join(dir, 'ca.pem'), devCa.certPem);
    const start = async <Info>(script: string, args: string[]): Promise<Child<Info>> => {
      const child = await startChild<Info>(join(HERE, script), args);
      children.push(child as Child<RoleInfo | BackendInfo | DirectProxyInfo | GatewayServiceInfo>);
      return child;
    };
    const backend = await start<BackendInfo>('backend.ts', []);
    const self = 'tunnel-floor.ts';
    const common = ['--backend', backend.info.url, '--dir', dir];
    const variants: Variant[] = [];
    for (const key of wanted) {
      if (key === 'hpm') {
        const hpm = await start<DirectProxyInfo>('direct-proxy.ts', ['--backend', backend.info.url]);
        variants.push({ key, url: hpm.info.url, host: hpm.info.host, caFile: hpm.info.caFile, pids: [hpm.pid] });
      } else if (key === 'gw-pass' || key === 'tunnel-pass') {
        const tunnel = key === 'tunnel-pass';
        const gw = await start<GatewayServiceInfo>('gateway-service.ts', ['--backend', backend.info.url, ...(tunnel ? ['--connectors'] : [])]);
        const pids = [gw.pid];
        if (tunnel) {
          const options = { name: 'floor', tunnels: 1, transport: 'tls' as const };
          const registered = await registerConnector(gw, options);
          stateDirs.push(dirname(registered.stateDir));
          const connector = await runConnector(registered, options);
          connectors.push(connector);
          pids.push(connector.child.pid!);
        }
        variants.push({ key, url: gw.info.origin, host: gw.info.hosts.passthrough, caFile: gw.info.caFile, pids });
      } else if (/^(direct|connect)(\+(wa|ss|hpm))*$/.test(key)) {
        const [framing, ...modifiers] = key.split('+');
        const flag = (modifier: string, name: string): string[] => (modifiers.includes(modifier) ? [name] : []);
        const frontFlags = [...flag('wa', '--write-ahead'), ...flag('ss', '--stream-socket'), ...flag('hpm', '--express')];
        const relayChild = framing === 'direct' ? undefined : await start<RoleInfo>(self, ['--role', 'relay', ...flag('wa', '--write-ahead'), ...common]);
        const relayArgs = relayChild === undefined ? [] : ['--relay', relayChild.info.url];
        const frontChild = await start<RoleInfo>(self, ['--role', 'front', '--framing', framing!, ...relayArgs, ...frontFlags, ...common]);
        variants.push({
          key,
          url: frontChild.info.url,
          host: HOST,
          caFile: join(dir, 'ca.pem'),
          pids: relayChild === undefined ? [frontChild.pid] : [frontChild.pid, relayChild.pid],
        });
      } else throw new Error(`unknown variant ${key}: hpm, gw-pass, tunnel-pass, or direct or connect with any of +wa, +ss, +hpm`);
    }
    for (const variant of variants) {
      process.stderr.write(`tunnel-floor: warming up ${variant.key}\n`);
      await runWrk({ origin: variant.url, host: variant.host }, 16, 4);
    }
    const rows: Row[] = [];
    for (const connections of concurrencies) {
      for (let round = 0; round < rounds; round++) {
        for (let index = 0; index < variants.length; index++) {
          const variant = variants[(index + round) % variants.length]!;
          const target = { origin: variant.url, host: variant.host };
          if (settle > 0) await runWrk(target, connections, settle);
          const before = variant.pids.map(threadCpuNs);
          const backendBefore = threadCpuNs(backend.pid);
          const figures = await runWrk(target, connections, seconds);
          const each = variant.pids.map((pid, n) => (threadCpuNs(pid) - before[n]!) / 1000 / figures.requests);
          const errors = figures.connectErrors + figures.readErrors + figures.writeErrors + figures.statusErrors + figures.timeouts;
          const row: Row = {
            key: variant.key,
            connections,
            rps: figures.requests / (figures.durationUs / 1e6),
            p99Ms: figures.p99Us / 1000,
            us: each.reduce((sum, us) => sum + us, 0),
            each,
            backendUs: (threadCpuNs(backend.pid) - backendBefore) / 1000 / figures.requests,
            errors,
          };
          rows.push(row);
          process.stderr.write(
            `${row.key.padEnd(8)} c${String(connections).padEnd(3)} r${round}  ${Math.round(row.rps).toLocaleString('en-US').padStart(6)} req/s  p99 ${row.p99Ms.toFixed(2)} ms  µs/req ${Math.round(row.us)} (${row.each.map((us) => Math.round(us)).join('+')})  backend ${Math.round(row.backendUs)}  err ${errors}  load ${loadAverage1()}\n`,
          );
        }
      }
    }
    const lines = [
      '| variant | conns | req/s | × hpm | × direct | p99 ms | CPU µs per request: front + relay | × hpm | × direct | backend µs per request | errors |',
      '|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|',
    ];
    for (const connections of concurrencies) {
      const of = (key: string): Row[] => rows.filter((row) => row.key === key && row.connections === connections);
      const rpsOf = (key: string): number => median(of(key).map((row) => row.rps));
      const usOf = (key: string): number => median(of(key).map((row) => row.us));
      for (const variant of variants) {
        const mine = of(variant.key);
        const rps = rpsOf(variant.key);
        const us = usOf(variant.key);
        const ratio = (value: number, key: string, get: (key: string) => number): string => (wanted.includes(key) ? (value / get(key)).toFixed(2) : '–');
        const parts = variant.pids.map((_, n) => Math.round(median(mine.map((row) => row.each[n]!))));
        lines.push(
          `| ${variant.key} | ${connections} | ${Math.round(rps).toLocaleString('en-US')} (${Math.round(Math.min(...mine.map((row) => row.rps))).toLocaleString('en-US')}–${Math.round(Math.max(...mine.map((row) => row.rps))).toLocaleString('en-US')}) | ${ratio(rps, 'hpm', rpsOf)} | ${ratio(rps, 'direct', rpsOf)} | ${median(mine.map((row) => row.p99Ms)).toFixed(2)} | ${Math.round(us)}${parts.length > 1 ? ` (${parts.join(' + ')})` : ''} | ${ratio(us, 'hpm', usOf)} | ${ratio(us, 'direct', usOf)} | ${Math.round(median(mine.map((row) => row.backendUs)))} | ${mine.reduce((sum, row) => sum + row.errors, 0)} |`,
        );
      }
    }
    process.stdout.write(`${lines.join('\n')}\n`);
    const transfers = Number(values.transfers);
    if (transfers > 0) process.stdout.write(`\n${(await measureTransfers(variants, transfers)).join('\n')}\n`);
  } finally {
    for (const connector of connectors) await connector.stop('SIGTERM');
    await Promise.all(children.map((child) => child.stop()));
    for (const stateDir of stateDirs) rmSync(stateDir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
}

if (values.role === 'relay') await relay(new URL(values.backend!), values.dir!, values['write-ahead']);
else if (values.role === 'front')
  await front(new URL(values.backend!), values.framing!, values.relay, values.dir!, {
    writeAhead: values['write-ahead'],
    streamSocket: values['stream-socket'],
    express: values.express,
  });
else await orchestrate();

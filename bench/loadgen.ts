/**
 * The load generator, in its own process (undici, keep-alive). Prints one
 * JSON line with the result on stdout; progress goes to stderr.
 *
 *   get      --origin https://127.0.0.1:PORT --host HOST[:PORT] --path /1k --connections C
 *            (--duration S [--warmup S] | --count N [--progress K]) [--cookie C] [--expect-bytes B]
 *            [--max-seconds S]
 *   download --origin … --host … --bytes N        GET /bytes?n=N, byte count and SHA-256 checked
 *   upload   --origin … --host … --bytes N        POST /sha with the pattern body, the app's hash checked
 *
 * TLS: --ca FILE (the CA of the front's certificate); the SNI is the host name.
 * Every loop stops by itself: by duration, by count (bounded by --max-seconds), or after --max-errors.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createHistogram } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Client, Pool } from 'undici';
import { patternSha256, patternStream } from '../dev/lib/pattern-body.ts';

export interface GetResult {
  readonly mode: 'get';
  readonly connections: number;
  readonly requests: number;
  /** Requests answered, the warm-up's included (for counts kept by the server over the whole run). */
  readonly allRequests: number;
  readonly seconds: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly errors: number;
  readonly statuses: Record<string, number>;
  readonly wrongBodies: number;
  readonly firstErrors: string[];
  /** Count mode: whether every requested request was made. */
  readonly complete: boolean;
}

export interface TransferResult {
  readonly mode: 'download' | 'upload';
  readonly status: number;
  readonly bytes: number;
  readonly sha256: string;
  readonly expectedSha256: string;
  readonly ok: boolean;
  readonly seconds: number;
  readonly mbps: number;
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    origin: { type: 'string' },
    host: { type: 'string' },
    path: { type: 'string', default: '/1k' },
    ca: { type: 'string' },
    cookie: { type: 'string' },
    connections: { type: 'string', default: '1' },
    duration: { type: 'string' },
    warmup: { type: 'string', default: '0' },
    count: { type: 'string' },
    progress: { type: 'string', default: '0' },
    'expect-bytes': { type: 'string' },
    'max-seconds': { type: 'string', default: '1800' },
    'max-errors': { type: 'string', default: '1000' },
    bytes: { type: 'string' },
  },
});

const mode = positionals[0];
const origin = values.origin;
const host = values.host;
if (!origin || !host) throw new Error('--origin and --host are required');
const servername = host.replace(/:\d+$/, '');
const connect = { ...(values.ca ? { ca: readFileSync(values.ca, 'utf8') } : {}), servername };
const baseHeaders: Record<string, string> = { host, ...(values.cookie ? { cookie: values.cookie } : {}) };
const MiB = 1024 * 1024;

function positive(name: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a number, got ${value}`);
  return n;
}

async function runGet(): Promise<GetResult> {
  const connections = positive('connections', values.connections);
  const count = values.count === undefined ? undefined : positive('count', values.count);
  const duration = values.duration === undefined ? undefined : positive('duration', values.duration);
  if ((count === undefined) === (duration === undefined)) throw new Error('give exactly one of --count and --duration');
  const warmup = positive('warmup', values.warmup);
  const progressEvery = positive('progress', values.progress);
  const maxSeconds = positive('max-seconds', values['max-seconds']);
  const maxErrors = positive('max-errors', values['max-errors']);
  const expectBytes = values['expect-bytes'] === undefined ? undefined : positive('expect-bytes', values['expect-bytes']);
  const path = values.path;

  const pool = new Pool(origin!, { connections, pipelining: 1, connect, keepAliveTimeout: 60_000, keepAliveMaxTimeout: 600_000 });
  const histogram = createHistogram({ lowest: 1, highest: 120_000_000, figures: 3 });
  const statuses: Record<string, number> = {};
  const firstErrors: string[] = [];
  let errors = 0;
  let wrongBodies = 0;
  let done = 0;
  let answered = 0;
  let issued = 0;
  let measuring = warmup === 0;
  let stop = false;
  const started = performance.now();
  let measureStart = started;
  const hardStop = setTimeout(() => (stop = true), maxSeconds * 1000);
  let lastProgress = started;
  let lastProgressCount = 0;

  const record = (): void => {
    done++;
    if (progressEvery > 0 && done % progressEvery === 0) {
      const now = performance.now();
      const rate = ((done - lastProgressCount) * 1000) / (now - lastProgress);
      lastProgress = now;
      lastProgressCount = done;
      process.stderr.write(
        `progress ${done}${count === undefined ? '' : `/${count}`} ${Math.round(rate)} req/s errors=${errors} t=${((now - started) / 1000).toFixed(1)}s\n`,
      );
    }
  };

  const loop = async (): Promise<void> => {
    while (!stop) {
      if (count !== undefined) {
        if (issued >= count) return;
        issued++;
      }
      const t0 = performance.now();
      try {
        const { statusCode, body } = await pool.request({ origin: origin!, path, method: 'GET', headers: baseHeaders });
        let bytes = 0;
        for await (const chunk of body) bytes += (chunk as Buffer).length;
        answered++;
        if (measuring) {
          histogram.record(Math.max(1, Math.round((performance.now() - t0) * 1000)));
          statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
          if (expectBytes !== undefined && bytes !== expectBytes) wrongBodies++;
        }
      } catch (error) {
        errors++;
        if (firstErrors.length < 5) firstErrors.push(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
        if (errors >= maxErrors) stop = true;
      }
      if (measuring) record();
    }
  };

  const timers: NodeJS.Timeout[] = [];
  if (!measuring) {
    timers.push(
      setTimeout(() => {
        measuring = true;
        measureStart = performance.now();
        lastProgress = measureStart;
      }, warmup * 1000),
    );
  }
  if (duration !== undefined) timers.push(setTimeout(() => (stop = true), (warmup + duration) * 1000));
  await Promise.all(Array.from({ length: connections }, () => loop()));
  const seconds = (performance.now() - measureStart) / 1000;
  clearTimeout(hardStop);
  for (const timer of timers) clearTimeout(timer);
  await pool.close();
  return {
    mode: 'get',
    connections,
    requests: done,
    allRequests: answered,
    seconds,
    rps: done / seconds,
    p50Ms: histogram.count > 0 ? histogram.percentile(50) / 1000 : NaN,
    p99Ms: histogram.count > 0 ? histogram.percentile(99) / 1000 : NaN,
    maxMs: histogram.count > 0 ? histogram.max / 1000 : NaN,
    errors,
    statuses,
    wrongBodies,
    firstErrors,
    complete: count === undefined ? true : done === count,
  };
}

async function runTransfer(kind: 'download' | 'upload'): Promise<TransferResult> {
  const bytes = positive('bytes', values.bytes);
  const expectedSha256 = patternSha256(bytes);
  const client = new Client(origin!, { connect, bodyTimeout: 120_000, headersTimeout: 120_000 });
  const started = performance.now();
  try {
    if (kind === 'download') {
      const { statusCode, body } = await client.request({ origin: origin!, path: `/bytes?n=${bytes}`, method: 'GET', headers: baseHeaders });
      const hash = createHash('sha256');
      let received = 0;
      for await (const chunk of body) {
        received += (chunk as Buffer).length;
        hash.update(chunk as Buffer);
      }
      const seconds = (performance.now() - started) / 1000;
      const sha256 = hash.digest('hex');
      return {
        mode: kind,
        status: statusCode,
        bytes: received,
        sha256,
        expectedSha256,
        ok: statusCode === 200 && received === bytes && sha256 === expectedSha256,
        seconds,
        mbps: received / MiB / seconds,
      };
    }
    const { statusCode, body } = await client.request({
      origin: origin!,
      path: '/sha',
      method: 'POST',
      headers: { ...baseHeaders, 'content-type': 'application/octet-stream', 'content-length': String(bytes) },
      body: patternStream(bytes),
    });
    const text = await body.text();
    const seconds = (performance.now() - started) / 1000;
    let answer: { bytes?: number; sha256?: string } = {};
    try {
      answer = JSON.parse(text) as { bytes?: number; sha256?: string };
    } catch {
      answer = {};
    }
    const received = answer.bytes ?? 0;
    const sha256 = answer.sha256 ?? text.slice(0, 200);
    return {
      mode: kind,
      status: statusCode,
      bytes: received,
      sha256,
      expectedSha256,
      ok: statusCode === 200 && received === bytes && sha256 === expectedSha256,
      seconds,
      mbps: bytes / MiB / seconds,
    };
  } finally {
    await client.close();
  }
}

const result = mode === 'get' ? await runGet() : mode === 'download' || mode === 'upload' ? await runTransfer(mode) : undefined;
if (!result) throw new Error(`unknown mode ${mode}; use get, download or upload`);
process.stdout.write(`${JSON.stringify(result)}\n`);

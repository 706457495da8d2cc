/**
 * The clients of bench/slow-downloads.ts, in their own process so that their
 * buffers stay out of the gateway's and the connector's figures: N HTTPS
 * downloads open at once, each on its own connection, each read slowly (a
 * few KiB per tick from a paused response), so that every buffer between the
 * backend and the client fills and stays full.
 *
 * Commands over IPC (bench/lib/child.ts): start { origin, host, caFile, clients, bytes, readBytes, intervalMs, fast? },
 * stats, finish { mode: 'cancel' | 'read', timeoutMs }.
 */
import { readFileSync } from 'node:fs';
import { request, type RequestOptions } from 'node:https';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { serveParent } from './lib/child.ts';

export interface SlowClientStats {
  readonly started: number;
  /** Responses whose head arrived and whose body has not ended, failed or been cancelled. */
  readonly open: number;
  readonly maxOpen: number;
  readonly completed: number;
  readonly cancelled: number;
  readonly failed: number;
  /** Error message (or status) → how many. */
  readonly errors: Record<string, number>;
  readonly bytesRead: number;
}

interface Download {
  request?: ClientRequest;
  response?: IncomingMessage;
  timer?: NodeJS.Timeout;
  done: boolean;
  read: number;
}

const downloads: Download[] = [];
const errors: Record<string, number> = {};
let open = 0;
let maxOpen = 0;
let completed = 0;
let cancelled = 0;
let failed = 0;
let bytesRead = 0;
let expected = 0;
let fast = false;

function settle(download: Download, outcome: 'completed' | 'cancelled' | { error: string }): void {
  if (download.done) return;
  download.done = true;
  clearInterval(download.timer);
  if (download.response) open -= 1;
  if (outcome === 'completed') completed += 1;
  else if (outcome === 'cancelled') cancelled += 1;
  else {
    failed += 1;
    errors[outcome.error] = (errors[outcome.error] ?? 0) + 1;
  }
}

/** Takes up to `budget` bytes out of a paused response; what is left of a larger chunk goes back for the next tick. */
function readSome(download: Download, budget: number): void {
  const response = download.response!;
  let left = budget;
  while (left > 0) {
    const chunk = response.read() as Buffer | null;
    if (chunk === null) break;
    if (chunk.length > left) response.unshift(chunk.subarray(left));
    const taken = Math.min(chunk.length, left);
    left -= taken;
    download.read += taken;
    bytesRead += taken;
  }
}

function startOne(options: RequestOptions, path: string, readBytes: number, intervalMs: number): void {
  const download: Download = { done: false, read: 0 };
  downloads.push(download);
  const req = request({ ...options, path }, (response) => {
    if (download.done) {
      response.destroy();
      return;
    }
    download.response = response;
    open += 1;
    maxOpen = Math.max(maxOpen, open);
    if (response.statusCode !== 200) {
      response.resume();
      settle(download, { error: `HTTP ${response.statusCode}` });
      return;
    }
    response.pause();
    response.once('end', () => settle(download, download.read === expected ? 'completed' : { error: `short body: ${download.read} bytes` }));
    response.once('error', (error) => settle(download, { error: error.message }));
    response.once('close', () => settle(download, { error: 'closed before the end' }));
    if (fast) readFast(download);
    // Each download starts reading at a different moment: ticks spread over the interval, not 1,000 reads at once.
    else setTimeout(() => (download.timer = setInterval(() => readSome(download, readBytes), intervalMs)), Math.random() * intervalMs);
  });
  download.request = req;
  req.once('error', (error) => settle(download, { error: (error as NodeJS.ErrnoException).code ?? error.message }));
  req.end();
}

function readFast(download: Download): void {
  clearInterval(download.timer);
  const response = download.response!;
  response.on('data', (chunk: Buffer) => {
    download.read += chunk.length;
    bytesRead += chunk.length;
  });
  response.resume();
}

serveParent(
  { pid: process.pid },
  {
    start: (args) => {
      const ca = readFileSync(String(args['caFile']), 'utf8');
      const origin = new URL(String(args['origin']));
      const host = String(args['host']);
      expected = Number(args['bytes']);
      fast = args['fast'] === true;
      const options: RequestOptions = {
        host: origin.hostname,
        port: Number(origin.port),
        headers: { host },
        servername: host.replace(/:\d+$/, ''),
        ca,
        // One connection per download: a shared agent would queue them behind its socket limit.
        agent: false,
      };
      for (let n = 0; n < Number(args['clients']); n++) startOne(options, `/bytes?n=${expected}`, Number(args['readBytes']), Number(args['intervalMs']));
    },
    stats: (): SlowClientStats => ({ started: downloads.length, open, maxOpen, completed, cancelled, failed, errors, bytesRead }),
    finish: async (args) => {
      const active = downloads.filter((download) => !download.done);
      if (args['mode'] === 'cancel') {
        for (const download of active) {
          settle(download, 'cancelled');
          download.request?.destroy();
          download.response?.destroy();
        }
        return;
      }
      fast = true;
      for (const download of active) if (download.response) readFast(download);
      const deadline = Date.now() + Number(args['timeoutMs']);
      while (downloads.some((download) => !download.done) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 250));
    },
  },
  () => {
    for (const download of downloads) download.response?.destroy();
    return Promise.resolve();
  },
);

/**
 * One HTTPS request to the gateway as a browser's script would send it
 * (session cookie, JSON accepted), judged into the tally: the body is read
 * whole (or hashed, for transfers) under a deadline, so that a hang, a
 * reset, a wrong status or a wrong body is caught, not waited out.
 */
import { createHash } from 'node:crypto';
import { request, type Agent } from 'node:https';
import type { LookupFunction } from 'node:net';
import type { Readable } from 'node:stream';
import type { Kind, Tally } from './tally.ts';

/** Every *.gatehouse.test name is this machine: SNI and Host stay the app's. */
export const loopbackLookup: LookupFunction = (_hostname, options, callback) => {
  if (options.all) (callback as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [{ address: '127.0.0.1', family: 4 }]);
  else callback(null, '127.0.0.1', 4);
};

/** The session cookie, kept up to date from Set-Cookie (the gateway re-seals it now and then). */
export class CookieHeader {
  readonly #values = new Map<string, string>();

  constructor(header: string) {
    for (const pair of header.split(/;\s*/)) {
      const at = pair.indexOf('=');
      if (at > 0) this.#values.set(pair.slice(0, at), pair.slice(at + 1));
    }
  }

  take(setCookie: readonly string[] | undefined): void {
    for (const line of setCookie ?? []) {
      const [pair = ''] = line.split(';');
      const at = pair.indexOf('=');
      if (at <= 0) continue;
      const name = pair.slice(0, at).trim();
      if (/max-age=0|expires=thu, 01 jan 1970/i.test(line)) this.#values.delete(name);
      else this.#values.set(name, pair.slice(at + 1));
    }
  }

  toString(): string {
    return [...this.#values].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

export interface Target {
  readonly origin: string;
  readonly ca: string;
  readonly agent: Agent;
  readonly cookie: CookieHeader;
}

export interface Call {
  readonly kind: Kind;
  readonly method: string;
  readonly path: string;
  readonly body?: Buffer;
  readonly deadlineMs: number;
  /** Checks a 2xx body (or its SHA-256 and length, with `hashOnly`); a string says what is wrong. */
  readonly check: (body: { readonly bytes: number; readonly sha256: string; readonly text: string }) => string | undefined;
  readonly hashOnly?: boolean;
}

type Outcome =
  | { readonly type: 'answer'; readonly status: number; readonly bytes: number; readonly sha256: string; readonly text: string }
  | { readonly type: 'cut'; readonly status: number; readonly what: string }
  | { readonly type: 'no-answer'; readonly what: string; readonly stale: boolean }
  | { readonly type: 'hang'; readonly what: string };

let nextId = 0;

function send(target: Target, call: Call): Promise<Outcome> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (outcome: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const url = new URL(call.path, target.origin);
    const req = request(url, {
      method: call.method,
      agent: target.agent,
      ca: target.ca,
      lookup: loopbackLookup,
      headers: {
        accept: 'application/json',
        'x-request-id': `soak-${(nextId += 1)}`,
        cookie: target.cookie.toString(),
        ...(call.body ? { 'content-type': 'application/octet-stream', 'content-length': call.body.length } : {}),
      },
    });
    let status = 0;
    const timer = setTimeout(() => {
      done({
        type: 'hang',
        what: `${call.method} ${call.path} (x-request-id ${String(req.getHeader('x-request-id'))}): no ${status ? 'end of body' : 'answer'} in ${call.deadlineMs} ms`,
      });
      req.destroy();
    }, call.deadlineMs);
    req.on('response', (res) => {
      status = res.statusCode ?? 0;
      target.cookie.take(res.headers['set-cookie']);
      readBody(res, call.hashOnly === true).then(
        (body) => done({ type: 'answer', status, ...body }),
        (error: unknown) => done({ type: 'cut', status, what: `${call.method} ${call.path}: ${status} then ${describe(error)}` }),
      );
    });
    req.on('error', (error) => {
      if (status !== 0) return; // the response's own handlers judge it
      done({ type: 'no-answer', what: `${call.method} ${call.path}: ${describe(error)} without an answer`, stale: req.reusedSocket && isReset(error) });
    });
    req.end(call.body);
  });
}

function readBody(res: Readable, hashOnly: boolean): Promise<{ bytes: number; sha256: string; text: string }> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    const chunks: Buffer[] = [];
    let bytes = 0;
    res.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
      if (!hashOnly || bytes < 65_536) chunks.push(chunk);
    });
    res.on('end', () => resolve({ bytes, sha256: hash.digest('hex'), text: hashOnly && bytes >= 65_536 ? '' : Buffer.concat(chunks).toString('utf8') }));
    res.on('aborted', () => reject(new Error('aborted')));
    res.on('error', reject);
  });
}

const isReset = (error: unknown): boolean => ['ECONNRESET', 'EPIPE'].includes((error as NodeJS.ErrnoException).code ?? '');
const describe = (error: unknown): string => (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));

/** Sends `call` and records what it ended as. */
export async function judged(target: Target, call: Call, tally: Tally): Promise<void> {
  let outcome = await send(target, call);
  if (outcome.type === 'no-answer' && outcome.stale) {
    tally.staleRetries += 1;
    outcome = await send(target, call);
  }
  switch (outcome.type) {
    case 'hang':
    case 'no-answer':
      tally.fail(call.kind, outcome.what);
      return;
    case 'cut':
      tally.cutBody(call.kind, outcome.what);
      return;
    case 'answer':
      judgeAnswer(call, outcome, tally);
  }
}

function judgeAnswer(call: Call, answer: Extract<Outcome, { type: 'answer' }>, tally: Tally): void {
  const { status } = answer;
  if (status >= 200 && status < 300) {
    const wrong = call.check(answer);
    if (wrong === undefined) tally.success(call.kind);
    else tally.fail(call.kind, `${call.method} ${call.path}: ${status} with a wrong body: ${wrong}`);
    return;
  }
  const code = gatehouseCode(answer.text);
  if ((status === 502 || status === 503 || status === 504) && code !== undefined) {
    tally.refused(call.kind, status, code);
    return;
  }
  tally.fail(call.kind, `${call.method} ${call.path}: ${status} ${code ?? answer.text.slice(0, 120)}`);
}

/** The error code of a Gatehouse JSON error body, if it is one. */
export function gatehouseCode(text: string): string | undefined {
  try {
    const code = (JSON.parse(text) as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'string' && /^ERR_[A-Z0-9_]+$/.test(code) ? code : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The admin API over HTTPS, as `gatehouse admin` calls it: the bearer token from
 * GATEHOUSE_ADMIN_TOKEN, the service's CA from --ca-file, and every failure as
 * one line with the exit code it earns (1 failed, 3 token refused).
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';

/** A failure to print and exit with. */
export class AdminCallError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.exitCode = exitCode;
  }
}

export interface AdminClientOptions {
  readonly service: URL;
  readonly token: string;
  readonly caPem?: string | undefined;
  readonly timeoutMs?: number;
}

export interface AdminClient {
  call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T>;
}

/** Reads --service and --ca-file; a usage problem is a string. */
export function adminClientOptions(service: string | undefined, caFile: string | undefined, token: string | undefined): AdminClientOptions | string {
  if (service === undefined) return '--service URL is required';
  if (!URL.canParse(service) || new URL(service).protocol !== 'https:') return `--service must be an https URL, not "${service}"`;
  if (token === undefined || token.trim() === '') return "GATEHOUSE_ADMIN_TOKEN is not set: put an administrator's access token in it";
  let caPem: string | undefined;
  if (caFile !== undefined) {
    try {
      caPem = readFileSync(caFile, 'utf8');
    } catch (error) {
      return `--ca-file: cannot read ${caFile}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`;
    }
  }
  return { service: new URL(service), token: token.trim(), caPem };
}

interface ErrorBody {
  readonly error?: { readonly code?: string; readonly reason?: string; readonly message?: string; readonly requestId?: string };
}

export function adminClient(options: AdminClientOptions): AdminClient {
  return {
    call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
      const url = new URL(path, options.service);
      const payload = body === undefined ? undefined : JSON.stringify(body);
      return new Promise<T>((resolve, reject) => {
        const req = request(
          url,
          {
            method,
            ...(options.caPem !== undefined ? { ca: options.caPem } : {}),
            timeout: options.timeoutMs ?? 15_000,
            headers: {
              authorization: `Bearer ${options.token}`,
              accept: 'application/json',
              'user-agent': 'gatehouse-admin',
              ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
            },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('error', (error) => reject(unreachable(options.service, error)));
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              let parsed: unknown;
              try {
                parsed = JSON.parse(text);
              } catch {
                reject(new AdminCallError(`${url.origin} answered ${res.statusCode} without JSON: is it the connector listener?`, 1));
                return;
              }
              const status = res.statusCode ?? 0;
              if (status >= 200 && status < 300) resolve(parsed as T);
              else reject(refusal(status, parsed as ErrorBody));
            });
          },
        );
        req.on('timeout', () => req.destroy(new Error('no answer in time')));
        req.on('error', (error) => reject(unreachable(options.service, error)));
        req.end(payload);
      });
    },
  };
}

function refusal(status: number, body: ErrorBody): AdminCallError {
  const error = body.error ?? {};
  const what = `${status} ${error.code ?? 'error'}${error.reason ? `, reason ${error.reason}` : ''}${error.requestId ? `, request ${error.requestId}` : ''}`;
  if (status === 401 || status === 403) return new AdminCallError(`the service refused the admin token (${what}): ${error.message ?? ''}`.trimEnd(), 3);
  return new AdminCallError(`the service refused the call (${what}): ${error.message ?? ''}`.trimEnd(), 1);
}

function unreachable(service: URL, error: Error): AdminCallError {
  const code = (error as NodeJS.ErrnoException).code;
  const tls = code !== undefined && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code);
  const hint = tls ? ' (is --ca-file the CA of the connector listener?)' : '';
  return new AdminCallError(`cannot reach ${service.origin}: ${error.message}${hint}`, 1);
}

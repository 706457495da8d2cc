import { request } from 'node:https';

export interface MtlsResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  json<T = unknown>(): T;
}

export interface MtlsRequest {
  readonly method?: string;
  readonly path: string;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  /** Client certificate and key (PEM), for mTLS routes. */
  readonly cert?: string;
  readonly key?: string;
}

/** One HTTPS call to the connector listener, optionally with a client certificate. */
export function callService(serviceUrl: string, ca: string, call: MtlsRequest): Promise<MtlsResponse> {
  const url = new URL(call.path, serviceUrl);
  const payload = call.body === undefined ? undefined : typeof call.body === 'string' ? call.body : JSON.stringify(call.body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: call.method ?? (payload === undefined ? 'GET' : 'POST'),
        ca,
        ...(call.cert ? { cert: call.cert, key: call.key } : {}),
        agent: false,
        headers: {
          ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
          ...call.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: <T>() => JSON.parse(body) as T });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

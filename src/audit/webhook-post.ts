import type { WebhookFetch } from './webhook-options.ts';

export type PostOutcome =
  | { readonly kind: 'delivered'; readonly status: number }
  /** The receiver says the batch itself is wrong: sending the same bytes again cannot succeed. */
  | { readonly kind: 'rejected'; readonly status: number }
  | { readonly kind: 'retry'; readonly status?: number; readonly error?: unknown; readonly retryAfterMs?: number };

/** 400 Bad Request, 413 Content Too Large, 422 Unprocessable Content. 401/403/404 are retried: they are usually configuration, fixed without a restart. */
const PERMANENT = new Set([400, 413, 422]);

/**
 * One POST of one batch, bounded by `timeoutMs` and by `signal` (close()).
 * Never throws: every failure is an outcome. Redirects are not followed, so
 * events and credentials never go to a host the operator did not name.
 */
export async function postBatch(request: {
  readonly fetch: WebhookFetch;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
}): Promise<PostOutcome> {
  const controller = new AbortController();
  const abort = (): void => controller.abort(request.signal.reason);
  request.signal.addEventListener('abort', abort, { once: true });
  const timer = setTimeout(() => controller.abort(new Error(`no answer within ${request.timeoutMs} ms`)), request.timeoutMs);
  try {
    if (request.signal.aborted) abort();
    const response = await request.fetch(request.url, {
      method: 'POST',
      headers: request.headers,
      body: request.body,
      signal: controller.signal,
      redirect: 'manual',
    });
    // The answer's body is not needed; discarding it frees the connection for the next batch.
    await response.body?.cancel().catch(() => {});
    if (response.status >= 200 && response.status < 300) return { kind: 'delivered', status: response.status };
    if (PERMANENT.has(response.status)) return { kind: 'rejected', status: response.status };
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
    return retryAfterMs === undefined ? { kind: 'retry', status: response.status } : { kind: 'retry', status: response.status, retryAfterMs };
  } catch (error) {
    return { kind: 'retry', error };
  } finally {
    clearTimeout(timer);
    request.signal.removeEventListener('abort', abort);
  }
}

/** Retry-After as delay-seconds (RFC 9110 §10.2.3); an HTTP date is ignored rather than trusted against our clock. */
function parseRetryAfter(value: string | null): number | undefined {
  if (value === null || !/^\d{1,9}$/.test(value.trim())) return undefined;
  return Number(value.trim()) * 1000;
}

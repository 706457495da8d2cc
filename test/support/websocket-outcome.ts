import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type WebSocket from 'ws';

/** A WebSocket upgrade the gateway refused: its status, its error code and its Retry-After. */
export interface WebSocketRefusal {
  readonly status: number;
  readonly code: string;
  readonly retryAfter: string | undefined;
}

/**
 * How a WebSocket to the test backend's echo endpoint went: `open` once its hello
 * arrived, or the gateway's refusal with its JSON answer read.
 */
export function webSocketOutcome(socket: WebSocket): Promise<'open' | WebSocketRefusal> {
  const opened = once(socket, 'message').then(() => 'open' as const);
  const refused = once(socket, 'unexpected-response').then(async ([, response]) => {
    const answer = response as IncomingMessage;
    let text = '';
    for await (const chunk of answer) text += String(chunk);
    const retryAfter = answer.headers['retry-after'];
    return { status: answer.statusCode ?? 0, code: (JSON.parse(text) as { error: { code: string } }).error.code, retryAfter };
  });
  return Promise.race([opened, refused]);
}

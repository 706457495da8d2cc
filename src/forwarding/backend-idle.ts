/**
 * The backend idle timeout, decided here for every exchange the gateway
 * forwards, direct or through a tunnel: a backend silent for
 * `apps[].timeouts.backend` is given up on (504 before the response head, a
 * cut stream after). Streams that are quiet by design (a `text/event-stream`
 * response, an upgraded connection such as a WebSocket) are exempt once their
 * head arrived: `apps[].timeouts.stream` governs them instead, and without it
 * they may stay quiet as long as both ends keep them open.
 */
import type { ClientRequest, IncomingHttpHeaders } from 'node:http';
import type { AppConfig } from '../config/parse.ts';

export const BACKEND_TIMEOUT = 'GATEHOUSE_BACKEND_TIMEOUT';

/** A connection to the backend: a socket, or a tunnel stream that times out like one. */
export interface IdleTimed {
  setTimeout(ms: number): unknown;
  once(event: 'timeout', listener: () => void): unknown;
}

export interface BackendIdle {
  /** Until the response head: the backend timeout; `onTimeout` gives up on the request. */
  untilHead(request: ClientRequest, onTimeout: () => void): void;
  /** Once the head arrived: an event stream switches to the stream timeout, anything else keeps the backend one. */
  afterHead(request: ClientRequest, headers: IncomingHttpHeaders): void;
  /** An upgraded connection to the backend: the stream timeout, or none. */
  upgraded(upstream: IdleTimed, onTimeout: () => void): void;
}

/** Whether a response is a stream that may stay quiet between events (Server-Sent Events). */
export function isEventStream(headers: IncomingHttpHeaders): boolean {
  const type = headers['content-type'];
  return typeof type === 'string' && type.split(';', 1)[0]?.trim().toLowerCase() === 'text/event-stream';
}

export function backendIdle(timeouts: AppConfig['timeouts']): BackendIdle {
  const backendMs = timeouts.backend * 1000;
  // 0 is Node's "no idle timeout".
  const streamMs = timeouts.stream === undefined ? 0 : timeouts.stream * 1000;
  return {
    untilHead(request, onTimeout) {
      request.setTimeout(backendMs, onTimeout);
    },
    afterHead(request, headers) {
      // The listener set in untilHead stays: only the delay changes.
      if (isEventStream(headers)) request.setTimeout(streamMs);
    },
    upgraded(upstream, onTimeout) {
      // Replaces the handshake's timeout, whose listener belongs to the request, not to the connection.
      upstream.setTimeout(streamMs);
      if (streamMs > 0) upstream.once('timeout', onTimeout);
    },
  };
}

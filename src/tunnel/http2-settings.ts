/**
 * How both ends run HTTP/2 over a tunnel: the settings they advertise, the
 * connection window they open, and the PING heartbeat that notices a dead
 * peer before TCP does.
 */
import type { Http2Session, SessionOptions, Settings } from 'node:http2';
import {
  TUNNEL_CONNECTION_WINDOW_BYTES,
  TUNNEL_MAX_FRAME_BYTES,
  TUNNEL_MAX_HEADER_LIST_BYTES,
  TUNNEL_MAX_HEADER_PAIRS,
  TUNNEL_MAX_OUTSTANDING_SETTINGS,
  TUNNEL_MAX_SESSION_MEMORY_MB,
  TUNNEL_STREAM_WINDOW_BYTES,
} from '../limits.ts';

/**
 * HTTP/2 settings both ends advertise: larger windows and frames than the
 * defaults (64 KiB windows cap bulk throughput, measured: docs/benchmarks.md), small
 * header lists (a CONNECT carries four headers), no server push.
 */
export function tunnelSettings(maxConcurrentStreams: number): Settings {
  return {
    enablePush: false,
    initialWindowSize: TUNNEL_STREAM_WINDOW_BYTES,
    maxFrameSize: TUNNEL_MAX_FRAME_BYTES,
    maxHeaderListSize: TUNNEL_MAX_HEADER_LIST_BYTES,
    maxConcurrentStreams,
  };
}

/**
 * The options both ends create their session with: `tunnelSettings`, and
 * room for the SETTINGS that resize stream windows as streams open and close
 * (stream-windows.ts) to wait for their acknowledgement.
 */
export function tunnelSessionOptions(maxConcurrentStreams: number): SessionOptions {
  // Node reads maxOutstandingSettings (and destroys a session that goes past it); its type declarations lack it.
  const options: SessionOptions & { maxOutstandingSettings: number } = {
    settings: tunnelSettings(maxConcurrentStreams),
    maxSessionMemory: TUNNEL_MAX_SESSION_MEMORY_MB,
    maxHeaderListPairs: TUNNEL_MAX_HEADER_PAIRS,
    maxOutstandingSettings: TUNNEL_MAX_OUTSTANDING_SETTINGS,
  };
  return options;
}

/** Opens the connection-level receive window (SETTINGS cannot: RFC 9113 §6.9.2). */
export function widenConnectionWindow(session: Http2Session): void {
  if (session.destroyed) return;
  session.setLocalWindowSize(TUNNEL_CONNECTION_WINDOW_BYTES);
}

export interface HeartbeatOptions {
  readonly intervalMs: number;
  /** No PING answer within this long: the tunnel is dead even if TCP has not noticed. */
  readonly timeoutMs: number;
  readonly onDead: () => void;
}

/**
 * PINGs the peer every `intervalMs` (one outstanding at a time) and calls
 * `onDead` once when an answer does not come back within `timeoutMs`.
 * Returns the function that stops it.
 */
export function startHeartbeat(session: Http2Session, options: HeartbeatOptions): () => void {
  let deadline: NodeJS.Timeout | undefined;
  let stopped = false;
  const stop = (): void => {
    stopped = true;
    clearInterval(interval);
    clearTimeout(deadline);
  };
  const tick = (): void => {
    if (stopped || deadline !== undefined || session.destroyed || session.closed) return;
    deadline = setTimeout(() => {
      stop();
      options.onDead();
    }, options.timeoutMs);
    deadline.unref();
    const sent = session.ping((error) => {
      // A cancelled PING means the session is going away; its own events say so.
      if (stopped || error) return;
      clearTimeout(deadline);
      deadline = undefined;
    });
    if (!sent) {
      clearTimeout(deadline);
      deadline = undefined;
    }
  };
  const interval = setInterval(tick, options.intervalMs);
  interval.unref();
  return stop;
}

/**
 * Descriptions of a tunnel's open streams, for leak reports (the soak's
 * failure note): built by walking the streams when asked, so that nothing is
 * kept or measured per request for them.
 */
import type { ClientHttp2Stream } from 'node:http2';
import type { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { HEADER_APP, HEADER_REQUEST_ID } from '../protocol/tunnel-wire.ts';
import type { StreamSocket } from './stream-socket.ts';

export interface OpenStreamReport {
  readonly app: string | undefined;
  /** The request id sent with the CONNECT, to look the request up in the gateway's log. */
  readonly requestId: string | undefined;
  /** HTTP/2 stream id; undefined while the stream waits to be sent. */
  readonly streamId: number | undefined;
  /** Its age, counted in streams the tunnel opened after it (no clock is read per stream). */
  readonly streamsSince: number | undefined;
  /** nghttp2's state (2 open, 5 half-closed local, 6 half-closed remote, 7 closed) and the Node stream's flags. */
  readonly h2: {
    readonly state: number | undefined;
    readonly pending: boolean;
    readonly closed: boolean;
    readonly destroyed: boolean;
    readonly readableEnded: boolean;
    readonly writableEnded: boolean;
    readonly rstCode: number | undefined;
    /** Bytes received on the stream and not yet read from it. */
    readonly readableLength: number;
  };
  /** The StreamSocket wrapping it, once the connector answered 200. */
  readonly socket:
    | {
        readonly idle: boolean;
        readonly destroyed: boolean;
        readonly readableEnded: boolean;
        readonly writableEnded: boolean;
        readonly owned: string | undefined;
        /** Bytes the socket holds that its HTTP client has not read. */
        readonly readableLength: number;
      }
    | undefined;
}

/** What an HTTP client request owning a socket is, when one does (Node's `_httpMessage`; diagnostics only). */
function owner(socket: StreamSocket): string | undefined {
  const request = (socket as unknown as { _httpMessage?: { method?: string; path?: string; finished?: boolean; destroyed?: boolean } })._httpMessage;
  if (!request) return undefined;
  return `${request.method ?? '?'} ${request.path ?? '?'}${request.finished ? ' finished' : ''}${request.destroyed ? ' destroyed' : ''}`;
}

export function describeStreams(open: Iterable<ClientHttp2Stream>, sockets: Iterable<StreamSocket>, streamsOpened: number): OpenStreamReport[] {
  const wrapping = [...sockets];
  return [...open].map((h2) => {
    const headers = h2.sentHeaders as Record<string, unknown> | undefined;
    const header = (name: string): string | undefined => {
      const value = headers?.[name];
      return typeof value === 'string' ? value : undefined;
    };
    const socket = wrapping.find((candidate) => candidate.wraps(h2));
    const id = h2.id;
    return {
      app: header(HEADER_APP),
      requestId: header(HEADER_REQUEST_ID),
      streamId: id,
      // Client streams take odd ids in order: 1, 3, 5...
      streamsSince: id === undefined ? undefined : streamsOpened - (id + 1) / 2,
      h2: {
        state: h2.destroyed ? undefined : h2.state.state,
        pending: h2.pending,
        closed: h2.closed,
        destroyed: h2.destroyed,
        readableEnded: h2.readableEnded,
        writableEnded: h2.writableEnded,
        rstCode: h2.rstCode,
        readableLength: h2.readableLength,
      },
      socket: socket && {
        idle: socket.idle,
        destroyed: socket.destroyed,
        readableEnded: socket.readableEnded,
        writableEnded: socket.writableEnded,
        owned: owner(socket),
        readableLength: socket.readableLength,
      },
    };
  });
}

export function countListeners(emitter: EventEmitter | Duplex): number {
  return emitter.eventNames().reduce((sum, name) => sum + emitter.listenerCount(name), 0);
}

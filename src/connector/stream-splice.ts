/**
 * Splices an accepted CONNECT stream to its app's connection, both ways,
 * with backpressure and each half-close carried across. A failure of the
 * app's connection ends the stream with a `gatehouse-error: origin_reset`
 * trailer (where RFC 9113 §8.5 has RST_STREAM CONNECT_ERROR, which Node may
 * drop); a reset stream closes the app's connection.
 */
import type { ServerHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { Logger } from '../logging/logger.ts';
import type { OriginReads } from './origin-reads.ts';
import { HEADER_ERROR, TRAILER_ORIGIN_RESET } from '../protocol/tunnel-wire.ts';

export interface SpliceOptions {
  readonly appId: string;
  readonly requestId: string | undefined;
  /** The app connection's reader, when it was dialled with one: it sends the app's bytes in place of pipe(). */
  readonly reads?: OriginReads;
  readonly log?: Logger;
  /** Called as the stream closes, before the app's connection is closed. */
  readonly onClose?: () => void;
  /** Called when the app's connection fails (the stream then ends with an error trailer). */
  readonly onOriginError?: () => void;
}

/** Answers 200 and splices until the stream closes. */
export function spliceStream(stream: ServerHttp2Stream, origin: Duplex, options: SpliceOptions): void {
  const { appId, requestId, log } = options;
  stream.respond({ ':status': 200 }, { waitForTrailers: true });
  log?.info({ app: appId, requestId, stream: stream.id }, 'stream open');
  // The stream ends with trailers: none when the app closed its side, an
  // error when its connection failed. Node may send END_STREAM ahead of an
  // RST_STREAM queued behind a write and then drop the RST, so the
  // failure travels with the END_STREAM itself (protocol/tunnel-wire.ts).
  let failed = false;
  stream.on('wantTrailers', () => stream.sendTrailers(failed ? { [HEADER_ERROR]: TRAILER_ORIGIN_RESET } : {}));
  origin.once('error', (error: NodeJS.ErrnoException) => {
    log?.info({ app: appId, requestId, code: error.code }, 'the app connection failed; ending the stream with an error');
    failed = true;
    options.onOriginError?.();
    if (!stream.closed && !stream.destroyed && !stream.writableEnded) stream.end();
  });
  stream.once('close', () => {
    options.onClose?.();
    // A reset stream (client abort, tunnel gone) must not leave the app connection open.
    origin.destroy();
    const counters = origin as Duplex & { bytesRead?: number; bytesWritten?: number };
    log?.debug({ app: appId, requestId, rstCode: stream.rstCode, up: counters.bytesWritten, down: counters.bytesRead }, 'stream closed');
  });
  // pipe(), not pipeline(): pipeline would destroy the HTTP/2 stream on
  // the first error, cutting the error trailer and any RST_STREAM still
  // queued. Errors are handled above: an app failure ends the stream with
  // an error trailer, a closed stream destroys the app connection. pipe()
  // keeps backpressure and carries each half-close: END_STREAM ends the app
  // connection's write side, its FIN ends the stream. The app's side of a
  // connection dialled by connectOrigin is read by OriginReads instead, which
  // does the same in reads sized to the stream's window.
  stream.pipe(origin);
  if (options.reads?.adopted) options.reads.attach(stream, origin);
  else origin.pipe(stream);
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import { lingeringClose } from '../errors/lingering-close.ts';

/**
 * An answer that goes out before the request's body has arrived — a sign-in
 * redirect, a 401 or 403, a 413, or a 502 when the backend failed while the
 * body was streaming to it — must not leave the connection waiting for that
 * body. Node drains a body only when nobody started reading it: a body the
 * forwarder began to read and then dropped stops the connection for good
 * (the client keeps sending, nobody reads, the next request on it is never
 * parsed), and a body never read may be megabytes the client still sends,
 * or a `Content-Length` it never meant to send.
 *
 * So such an answer says `Connection: close` and the connection closes once
 * it is sent; a body that did arrive whole but was left unread is drained,
 * so the connection can serve the next request.
 *
 * Closing at once would lose the answer: a client still sending its body
 * gets a reset for its next write and reports EPIPE, never reading the 503
 * or 401 waiting in its buffer. So the close lingers (lingeringClose): the
 * body still arriving is read and dropped for a bounded time and size.
 */
export function unreadBody(): RequestHandler {
  return (req, res, next) => {
    if (hasBody(req)) guard(req, res);
    next();
  };
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function guard(req: IncomingMessage, res: ServerResponse): void {
  const writeHead = res.writeHead.bind(res);
  // Every way of sending a head (explicit, or implied by write/end) goes through writeHead: the decision is made there.
  res.writeHead = function (this: ServerResponse, ...args: Parameters<ServerResponse['writeHead']>) {
    if (!req.complete) {
      this.shouldKeepAlive = false;
      // A Connection header set on the way (the forwarder sets one) would otherwise win over shouldKeepAlive.
      if (this.hasHeader('connection')) this.setHeader('Connection', 'close');
      // Node calls destroySoon once the answer is handed over on a connection that closes.
      req.socket.destroySoon = () => lingeringClose(req.socket, req);
    }
    return writeHead(...args);
  } as ServerResponse['writeHead'];
  res.once('finish', () => {
    if (!req.readableEnded && req.complete && !req.destroyed) req.resume();
  });
}

import { request as httpRequest, type Agent, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import type { AppConfig } from '../config/parse.ts';
import type { ResponseHeadFilter } from './downstream-response.ts';
import { BACKEND_TIMEOUT, type BackendIdle } from './backend-idle.ts';
import { spliceWebSocket } from './websocket-splice.ts';

export interface WebSocketForwardOptions {
  readonly app: AppConfig;
  readonly agent: Agent;
  /** The headers `upstreamRequestHeaders` decided for this upgrade. */
  readonly headers: OutgoingHttpHeaders;
  readonly filterHead: ResponseHeadFilter;
  /** How long the backend may take to answer the handshake, and may stay quiet once upgraded. */
  readonly idle: BackendIdle;
  /** The backend could not be reached or did not answer in time; the client has been sent nothing yet. */
  readonly onFailure: (error: Error) => void;
}

export const UPGRADE_TIMEOUT = 'GATEHOUSE_UPGRADE_TIMEOUT';

/**
 * Forwards a WebSocket handshake that passed every earlier step, in
 * Gatehouse's own code: the request carries exactly the headers decided for
 * it, and whatever the backend answers — the 101 or a refusal — goes through
 * the same response filter as any other response before the client sees it.
 */
export function forwardUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, options: WebSocketForwardOptions): void {
  const target = new URL(options.app.internalUrl);
  const base = target.pathname.replace(/\/+$/, '');
  const headers: OutgoingHttpHeaders = { ...options.headers };
  if (options.app.hostHeader === 'internal') headers.host = target.host;
  const request = (target.protocol === 'https:' ? httpsRequest : httpRequest)({
    agent: options.agent,
    protocol: target.protocol,
    hostname: target.hostname,
    port: target.port || (target.protocol === 'https:' ? 443 : 80),
    method: 'GET',
    path: `${base}${req.url ?? '/'}`,
    headers,
  });
  let answered = false;
  const onClientGone = (): void => {
    if (!answered) request.destroy();
  };
  socket.once('close', onClientGone);
  options.idle.untilHead(request, () => {
    request.destroy(Object.assign(new Error('backend did not answer the WebSocket handshake'), { code: UPGRADE_TIMEOUT }));
  });
  request.on('error', (error) => {
    if (answered) return;
    answered = true;
    socket.off('close', onClientGone);
    options.onFailure(error);
  });
  request.on('upgrade', (response, upstream, upstreamHead) => {
    answered = true;
    socket.off('close', onClientGone);
    // The handshake's timeout must not become the WebSocket's idle timeout.
    options.idle.upgraded(upstream, () => upstream.destroy(Object.assign(new Error('backend quiet past the stream timeout'), { code: BACKEND_TIMEOUT })));
    if (socket.destroyed) {
      upstream.destroy();
      return;
    }
    const out = options.filterHead(response.headers);
    out.connection = 'Upgrade';
    out.upgrade = response.headers.upgrade ?? 'websocket';
    socket.write(statusLine(101, 'Switching Protocols') + headerLines(out));
    if (head.length > 0) upstream.write(head);
    spliceWebSocket(socket, upstream, upstreamHead);
  });
  request.on('response', (response) => {
    answered = true;
    socket.off('close', onClientGone);
    relayRefusal(response, socket, options.filterHead);
  });
  request.end();
}

/** A backend that answers the handshake with anything but 101: its answer, filtered, then the connection closes. */
function relayRefusal(response: IncomingMessage, socket: Duplex, filterHead: ResponseHeadFilter): void {
  if (socket.destroyed) {
    response.destroy();
    return;
  }
  const status = response.statusCode ?? 502;
  const out = filterHead(response.headers);
  // The body is delimited by closing the connection: nothing is buffered, nothing re-framed.
  delete out['content-length'];
  delete out['transfer-encoding'];
  out.connection = 'close';
  socket.write(statusLine(status, response.statusMessage ?? '') + headerLines(out));
  const bodyless = status === 204 || status === 304 || (status >= 100 && status < 200);
  if (bodyless) {
    response.destroy();
    socket.end();
    return;
  }
  socket.once('close', () => response.destroy());
  response.once('error', () => socket.destroy());
  response.pipe(socket);
}

function statusLine(status: number, message: string): string {
  // The reason phrase is the backend's text: keep it to visible ASCII so it cannot end the line.
  return `HTTP/1.1 ${status} ${message.replace(/[^\x20-\x7e]/g, '')}\r\n`;
}

function headerLines(headers: IncomingHttpHeaders): string {
  let out = '';
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) out += `${name}: ${item}\r\n`;
  }
  return `${out}\r\n`;
}

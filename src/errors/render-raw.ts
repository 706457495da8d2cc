/**
 * The raw renderer: an answer written straight onto a socket that no HTTP
 * server response owns any more (a refused upgrade, a client error before
 * any request, a refused tunnel upgrade). It is plain HTTP/1.1, always
 * closes the connection, and carries the same JSON body the plane's own
 * renderer would: the user's on the gateway, the connector plane's on the
 * connector listener.
 */
import type { Duplex } from 'node:stream';
import type { GatehouseError } from './gatehouse-error.ts';
import { connectorPlaneErrorBody } from './render-connector-plane.ts';
import { challengesFor, userErrorBody } from './render-user.ts';
import { lingeringClose } from './lingering-close.ts';
import { ERROR_TABLE } from './table.ts';

/** A reason phrase may hold only visible ASCII and spaces (RFC 9112 §4). */
function reasonPhrase(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '');
}

/** One HTTP/1.1 answer with `Connection: close`, as bytes for a socket. */
export function rawHttpResponse(status: number, reason: string, headers: readonly string[], body = ''): string {
  const lines = [`HTTP/1.1 ${status} ${reasonPhrase(reason)}`, ...headers, `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close'];
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

/** Sends the answer on a socket no parser reads any more (an upgrade's) and closes it, lingering to drop what the client still sends. */
function writeAndClose(socket: Duplex, response: string): void {
  lingeringClose(socket, socket, response);
}

export interface RejectUpgradeOptions {
  readonly requestId?: string | undefined;
  readonly signInUrl?: string | undefined;
  /** The app the upgrade was for: names it in the message and as the realm. */
  readonly appId?: string | undefined;
  /** Whether that app takes access tokens: a 401 then offers the Bearer challenge too. */
  readonly bearerApp?: boolean | undefined;
  /** Sent as `Retry-After` with a 429 or 503: when trying again may succeed. */
  readonly retryAfterSeconds?: number | undefined;
}

/** Answers a gateway upgrade that will not happen, with the user's JSON body. */
export function rejectUpgrade(socket: Duplex, error: GatehouseError, options: RejectUpgradeOptions = {}): void {
  writeAndClose(socket, userAnswer(error, options));
}

/**
 * Answers a request the server could not parse, and closes at once: its parser
 * still owns the socket, so what the client sent next would not be dropped
 * but parsed again, into another client error.
 */
export function rejectUnparsed(socket: Duplex, error: GatehouseError): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(userAnswer(error, {}), () => socket.destroy());
}

function userAnswer(error: GatehouseError, options: RejectUpgradeOptions): string {
  const row = ERROR_TABLE[error.code];
  const body = JSON.stringify(userErrorBody(error, options));
  const challenges = challengesFor(error, options.appId, options.signInUrl, options.bearerApp === true);
  const headers = [
    'Content-Type: application/json; charset=utf-8',
    'Cache-Control: no-store',
    'X-Robots-Tag: noindex, nofollow',
    ...(options.requestId ? [`X-Request-Id: ${options.requestId}`] : []),
    ...(challenges !== undefined ? [`WWW-Authenticate: ${challenges}`] : []),
    ...(options.retryAfterSeconds !== undefined && (row.status === 429 || row.status === 503) ? [`Retry-After: ${options.retryAfterSeconds}`] : []),
  ];
  return rawHttpResponse(row.status, row.title, headers, body);
}

/** Refuses an upgrade on the connector listener (the WebSocket tunnel) with the connector plane's JSON body. */
export function refuseConnectorUpgrade(socket: Duplex, error: GatehouseError): void {
  const row = ERROR_TABLE[error.code];
  const body = JSON.stringify(connectorPlaneErrorBody(error));
  writeAndClose(socket, rawHttpResponse(row.status, row.title, ['Content-Type: application/json; charset=utf-8', 'Cache-Control: no-store'], body));
}

/** Refuses a WebSocket handshake that is not one this listener speaks: 400, no body. */
export function refuseHandshake(socket: Duplex): void {
  writeAndClose(socket, rawHttpResponse(400, 'Bad Request', []));
}

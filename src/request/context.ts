import type { IncomingMessage } from 'node:http';
import type { AppConfig } from '../config/parse.ts';
import type { Identity } from '../session/identity.ts';

export type { Identity } from '../session/identity.ts';

export interface RequestContext {
  readonly requestId: string;
  readonly clientIp: string;
  readonly userAgent: string | undefined;
  app?: AppConfig;
  /** Set by the session gate on pre-authenticated apps. */
  identity?: Identity;
  /** The signed identity assertion for the backend, once the identity step ran. */
  assertion?: string;
  /** The last step of the request path this request entered: the one that answered it, once the response is sent (access log, metrics). */
  step?: RequestStep;
}

/** The steps of the request path, by the names the access log and the metrics use. */
export type RequestStep =
  'robots' | 'request-checks' | 'app-resolution' | 'health' | 'jwks' | 'signin' | 'session-gate' | 'conditional-access' | 'identity' | 'upstream' | 'error';

/**
 * Kept on the request under a symbol of this module rather than in a WeakMap: every request gets one, and a
 * WeakMap entry per request is work for the garbage collector (ephemerons) that a property is not.
 */
const CONTEXT = Symbol('gatehouse.requestContext');

type WithContext = IncomingMessage & { [CONTEXT]?: RequestContext };

export function setRequestContext(req: IncomingMessage, context: RequestContext): void {
  (req as WithContext)[CONTEXT] = context;
}

export function getRequestContext(req: IncomingMessage): RequestContext | undefined {
  return (req as WithContext)[CONTEXT];
}

/** The signed-in user of this request, once the session gate has passed it. */
export function getIdentity(req: IncomingMessage): Identity | undefined {
  return (req as WithContext)[CONTEXT]?.identity;
}

import type { IncomingMessage } from 'node:http';
import type { AppConfig } from '../config/parse.ts';

/** Who the session says the user is. Set by the session gate on pre-authenticated apps. */
export interface Identity {
  readonly sub: string;
  readonly name?: string | undefined;
  readonly email?: string | undefined;
  /** Whether the identity provider marked the email verified (`email_verified: true`); false when it said no or said nothing. */
  readonly emailVerified: boolean;
  readonly groups: readonly string[];
  readonly amr: readonly string[];
  readonly acr?: string | undefined;
  /** When the user authenticated at the identity provider (epoch seconds); undefined when the ID token did not say. */
  readonly authTime: number | undefined;
  readonly sessionId: string;
  /** When the session ends at the latest (epoch seconds). */
  readonly sessionExpiresAt: number;
  readonly app: string;
  /** The ID-token claims the app's policies look at (and only those). */
  readonly claims: Readonly<Record<string, unknown>>;
}

export interface RequestContext {
  readonly requestId: string;
  readonly clientIp: string;
  readonly userAgent: string | undefined;
  app?: AppConfig;
  identity?: Identity;
  /** The signed identity assertion for the backend, once the identity step ran. */
  assertion?: string;
}

const contexts = new WeakMap<IncomingMessage, RequestContext>();

export function setRequestContext(req: IncomingMessage, context: RequestContext): void {
  contexts.set(req, context);
}

export function getRequestContext(req: IncomingMessage): RequestContext | undefined {
  return contexts.get(req);
}

/** The signed-in user of this request, once the session gate has passed it. */
export function getIdentity(req: IncomingMessage): Identity | undefined {
  return contexts.get(req)?.identity;
}

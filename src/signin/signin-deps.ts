import type { AuditLog } from '../audit/audit-log.ts';
import type { Clock } from '../clock.ts';
import type { AccessControl } from '../access/access-control.ts';
import type { OidcClient } from './oidc-client.ts';
import type { SignInLoopDetector } from './signin-loop.ts';
import type { TransactionCookies } from './transaction-cookies.ts';
import type { SessionManager } from '../session/session-manager.ts';
import type { SessionSockets } from '../session/session-sockets.ts';
import type { SessionStore } from '../session/session-store.ts';

/** What the sign-in, callback and logout handlers share. Built once by createGateway. */
export interface PreauthDeps {
  readonly oidc: OidcClient;
  readonly sessions: SessionManager;
  readonly store: SessionStore;
  readonly transactions: TransactionCookies;
  readonly loops: SignInLoopDetector;
  readonly audit: AuditLog;
  readonly clock: Clock;
  readonly scopes: readonly string[];
  readonly clientId: string;
  /** Upgraded connections by session, closed at logout. */
  readonly sockets: SessionSockets;
  /** Conditional access, evaluated at sign-in. */
  readonly access: AccessControl;
  /** Told of every completed and failed sign-in, for the built-in risk signals. */
  readonly signIns?: SignInObserver;
  /** Told how every sign-in callback ended (the gateway's metrics): the error code on failure or denial. */
  readonly onCallback?: (appId: string, outcome: SignInOutcome, code: string | undefined) => void;
}

/** How a sign-in callback ended: a session issued, a failure (state, provider, tokens, store), or refused by policy. */
export type SignInOutcome = 'success' | 'failure' | 'denied';

export interface SignInObserver {
  failure(event: { readonly sub?: string | undefined; readonly clientIp: string; readonly now: number }): void;
  success(event: { readonly sub: string; readonly clientIp: string; readonly now: number }): void;
}

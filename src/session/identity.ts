/**
 * Who a session says the user is: what the session keeps and hands on to the
 * steps after it (access control, the identity headers and assertion).
 */
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
  /** `service`: a program calling with its own access token (client credentials), `sub` being its client id. Absent: a user. */
  readonly kind?: 'user' | 'service' | undefined;
  /** `bearer`: the request proved itself with an access token, not the session cookie (it is then an API client). */
  readonly via?: 'bearer' | undefined;
}

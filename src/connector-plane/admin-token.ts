/**
 * Administrators on the connector plane: their bearer tokens, verified
 * against the identity provider's keys (JWTs) or by asking it (opaque tokens,
 * RFC 7662 introspection), become the admin who registers, revokes or moves
 * connectors.
 */
import * as jose from 'jose';
import type { Clock } from '../clock.ts';
import type { ConnectorsConfig } from '../config/parse.ts';
import { GatehouseError } from '../errors/index.ts';
import { claimAt } from '../session/claim-path.ts';
import type { IdpKeys } from '../signin/idp-keys.ts';
import type { TokenIntrospection } from './token-introspection.ts';

export interface AdminIdentity {
  readonly sub: string;
  readonly name?: string | undefined;
  readonly email?: string | undefined;
}

export interface AdminTokenVerifierOptions {
  readonly settings: ConnectorsConfig['admin'];
  /** The identity provider's signing keys, shared with every other token the gateway checks, so a key rotation is seen by all at once. */
  readonly keys: Pick<IdpKeys, 'verifyJwt'>;
  readonly clock: Clock;
  readonly clockToleranceSeconds: number;
  /** For tokens that are not JWTs; absent: those are refused as malformed. */
  readonly introspection?: TokenIntrospection | undefined;
}

const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

/**
 * Checks an administrator's bearer token for connector registration and the
 * admin API (docs/connector-protocol.md): signed by the identity provider's
 * keys, issued by the configured tenant, for this service, current, and held
 * by an admin.
 */
export class AdminTokenVerifier {
  readonly #options: AdminTokenVerifierOptions;

  constructor(options: AdminTokenVerifierOptions) {
    this.#options = options;
  }

  /** Reads `Authorization: Bearer …` and verifies it. Throws a GatehouseError naming the failed check. */
  async verifyHeader(authorization: string | undefined): Promise<AdminIdentity> {
    const match = authorization === undefined ? null : /^Bearer +([A-Za-z0-9_.~+/=-]+)$/i.exec(authorization.trim());
    if (!match?.[1]) throw new GatehouseError('ERR_ADMIN_TOKEN_MISSING', authorization === undefined ? 'missing' : 'malformed');
    return this.verify(match[1]);
  }

  async verify(token: string): Promise<AdminIdentity> {
    const { introspection } = this.#options;
    return introspection !== undefined && !isJws(token) ? this.#introspected(introspection, token) : this.#jwt(token);
  }

  async #jwt(token: string): Promise<AdminIdentity> {
    const { settings, clock, clockToleranceSeconds, keys } = this.#options;
    const { payload } = await keys.verifyJwt(
      token,
      {
        issuer: settings.issuer,
        audience: settings.audience,
        algorithms: ALGORITHMS,
        clockTolerance: clockToleranceSeconds,
        currentDate: new Date(clock()),
        requiredClaims: ['exp', 'sub'],
      },
      'ERR_ADMIN_TOKEN_INVALID',
    );
    return this.#admin(payload);
  }

  /**
   * The same checks as for a JWT, on what the provider says: active (checked
   * by the introspection), issued by the configured tenant when it says so,
   * for this service, for a user, current, and held by an admin.
   */
  async #introspected(introspection: TokenIntrospection, token: string): Promise<AdminIdentity> {
    const { settings, clock, clockToleranceSeconds } = this.#options;
    const claims = await introspection.claims(token);
    if (claims['iss'] !== undefined && claims['iss'] !== settings.issuer) throw new GatehouseError('ERR_ADMIN_TOKEN_INVALID', 'iss_mismatch');
    const audience = claims['aud'];
    const audiences = Array.isArray(audience) ? audience : typeof audience === 'string' ? [audience] : [];
    if (!audiences.includes(settings.audience)) throw new GatehouseError('ERR_ADMIN_TOKEN_INVALID', 'aud_mismatch');
    const now = clock() / 1000;
    if (typeof claims['exp'] === 'number' && claims['exp'] + clockToleranceSeconds <= now) throw new GatehouseError('ERR_ADMIN_TOKEN_INVALID', 'expired');
    // A client-credentials token has no user: no person registered the connector.
    if (typeof claims['sub'] !== 'string' || claims['sub'] === '') throw new GatehouseError('ERR_ADMIN_TOKEN_INVALID', 'sub_missing');
    return this.#admin(claims);
  }

  #admin(claims: Readonly<Record<string, unknown>>): AdminIdentity {
    if (!holdsAdminRole(claims, this.#options.settings)) throw new GatehouseError('ERR_ADMIN_TOKEN_INVALID', 'not_admin');
    return {
      sub: String(claims['sub']),
      name: typeof claims['name'] === 'string' ? claims['name'] : undefined,
      email: typeof claims['email'] === 'string' ? claims['email'] : undefined,
    };
  }
}

/**
 * Whether verified claims name an admin: the configured claim (`connectors.admin.claim`, a
 * list or a space-separated string) holds the configured value. The admin console asks
 * the same of a signed-in user's ID token claims.
 */
export function holdsAdminRole(claims: Readonly<Record<string, unknown>>, settings: Pick<ConnectorsConfig['admin'], 'claim' | 'value'>): boolean {
  const claim = claimAt(claims, settings.claim);
  const values: unknown[] = Array.isArray(claim) ? claim : typeof claim === 'string' ? claim.split(' ') : [];
  return values.includes(settings.value);
}

/** A compact JWS (three parts, a JSON header naming an algorithm); anything else goes to introspection. */
function isJws(token: string): boolean {
  if (token.split('.').length !== 3) return false;
  try {
    return typeof jose.decodeProtectedHeader(token).alg === 'string';
  } catch {
    return false;
  }
}

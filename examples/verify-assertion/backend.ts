/**
 * An internal app that trusts nobody but Gatehouse: every request must carry
 * a valid X-Gatehouse-Assertion, verified with jose against the gateway's
 * published keys. A request that reached the app some other way (a
 * misrouted load balancer, someone on the internal network) has none, or a
 * forged one, and gets 401.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { createRemoteJWKSet, customFetch, errors, jwtVerify, type FetchImplementation, type JWTPayload } from 'jose';

export interface VerifyAssertionOptions {
  /** The gateway's keys: `https://<the app's host>/.gatehouse/jwks.json`. */
  readonly jwksUrl: string;
  /** The app's external origin, exactly as Gatehouse's `apps[].externalUrl`: an assertion for another app is refused. */
  readonly audience: string;
  /** Gatehouse's `identityAssertion.issuer`. Default `urn:gatehouse`. */
  readonly issuer?: string;
  /** Allowed clock difference with the gateway, seconds. Default 5. */
  readonly clockToleranceSeconds?: number;
  /** Only for a gateway whose certificate your runtime does not trust by default: a fetch that trusts its CA. */
  readonly fetch?: FetchImplementation;
}

/** Who Gatehouse says the user is. */
export interface GatehouseUser {
  readonly sub: string;
  readonly name: string | undefined;
  readonly email: string | undefined;
  /** Absent when Gatehouse left a too-long list out (`groups_omitted`): ask your directory instead. */
  readonly groups: readonly string[] | undefined;
  readonly amr: readonly string[];
  readonly app: string | undefined;
}

export type AssertionCheck = { readonly ok: true; readonly user: GatehouseUser } | { readonly ok: false; readonly reason: string };

const HEADER = 'x-gatehouse-assertion';

/** Returns the verifier: `(req) => { ok, user } | { ok: false, reason }`. Keys are fetched once and cached by jose. */
export function createAssertionVerifier(options: VerifyAssertionOptions): (req: IncomingMessage) => Promise<AssertionCheck> {
  const keys = createRemoteJWKSet(new URL(options.jwksUrl), options.fetch ? { [customFetch]: options.fetch } : {});
  return async (req) => {
    const header = req.headers[HEADER];
    // Node joins repeated headers with ", ", which a JWT never contains: two assertions are none.
    if (typeof header !== 'string' || header === '') return { ok: false, reason: 'assertion_missing' };
    if (header.includes(',')) return { ok: false, reason: 'assertion_repeated' };
    try {
      const { payload } = await jwtVerify(header, keys, {
        issuer: options.issuer ?? 'urn:gatehouse',
        audience: options.audience,
        // Only what Gatehouse signs with: an "alg: none" or HS256 token never reaches a key.
        algorithms: ['ES256'],
        typ: 'JWT',
        requiredClaims: ['sub', 'exp', 'iat'],
        clockTolerance: options.clockToleranceSeconds ?? 5,
      });
      return { ok: true, user: userOf(payload) };
    } catch (error) {
      // Keys that cannot be fetched are the gateway's problem, not the user's: let the caller answer 503.
      if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid) throw error;
      if (error instanceof errors.JOSEError) return { ok: false, reason: error.code };
      throw error;
    }
  };
}

/** The example app: says who the user is, and refuses everything without a valid assertion. */
export function createApp(options: VerifyAssertionOptions): RequestListener {
  const verify = createAssertionVerifier(options);
  return (req, res) => {
    verify(req).then(
      (check) => {
        if (!check.ok) {
          // The reason is a stable jose code (e.g. ERR_JWT_CLAIM_VALIDATION_FAILED), never the token.
          send(res, 401, { error: 'unauthenticated', reason: check.reason });
          return;
        }
        send(res, 200, { hello: check.user.name ?? check.user.sub, user: check.user, path: req.url });
      },
      // The keys could not be fetched: the gateway is down or unreachable, not the user's fault.
      () => send(res, 503, { error: 'keys_unavailable' }),
    );
  };
}

function userOf(payload: JWTPayload): GatehouseUser {
  const strings = (value: unknown): string[] | undefined => (Array.isArray(value) && value.every((item) => typeof item === 'string') ? value : undefined);
  return {
    sub: payload.sub ?? '',
    name: typeof payload['name'] === 'string' ? payload['name'] : undefined,
    email: typeof payload['email'] === 'string' ? payload['email'] : undefined,
    groups: strings(payload['groups']),
    amr: strings(payload['amr']) ?? [],
    app: typeof payload['app'] === 'string' ? payload['app'] : undefined,
  };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' }).end(JSON.stringify(body));
}

/** An app's `bearer` section: which access tokens from the identity provider API clients may present instead of a session cookie. */
import { z } from 'zod';

/**
 * Asymmetric JWS algorithms only: the keys come from the provider's public JWKS, so a symmetric (HS*) or unsigned
 * (`none`) token could only be one someone made up.
 */
export const BEARER_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;

const scopeToken = z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/, 'must be one scope value (RFC 6749 scope-token, no spaces)');

export const bearerSchema = z.strictObject({
  /** The token's `aud` must name at least one of these (the API's identifier at the identity provider). */
  audiences: z.array(z.string().min(1).max(512)).min(1),
  /** Every one of these must be granted in the token's `scope` (space-separated) or `scp` (array). */
  scopes: z.array(scopeToken).min(1).optional(),
  /** Accepted `iss` values; absent: the identity provider's issuer from discovery. */
  issuers: z.array(z.string().min(1).max(512)).min(1).optional(),
  /** Accepted signing algorithms. Default: every asymmetric one. */
  algorithms: z
    .array(z.enum(BEARER_ALGORITHMS))
    .min(1)
    .default([...BEARER_ALGORITHMS]),
  /** Send the client's `Authorization` header on to the app (removed by default: the app sees the identity headers and assertion). */
  forwardAuthorization: z.boolean().default(false),
});

export type BearerConfig = z.output<typeof bearerSchema>;

/**
 * `gatehouse check --online`: discovery against the configured identity
 * provider with the gateway's own client (its CA, timeout and signing
 * algorithm), and what it found, so that a wrong issuer or an unreachable
 * provider shows before the first sign-in does.
 */
import { systemClock } from '../clock.ts';
import type { GatewayConfig } from '../config/parse.ts';
import { GatehouseError } from '../errors/index.ts';
import { OidcClient } from '../signin/oidc-client.ts';

export interface OnlineReport {
  /** What was found, one line each, for stdout. */
  readonly lines: readonly string[];
  /** What makes sign-in fail: the command exits 1. */
  readonly problems: readonly string[];
  /** What may make it fail, or is merely not advertised. */
  readonly warnings: readonly string[];
}

export async function checkIdentityProvider(settings: GatewayConfig['identityProvider']): Promise<OnlineReport> {
  const client = new OidcClient({ settings, clock: systemClock });
  try {
    let metadata;
    try {
      metadata = (await client.configuration()).serverMetadata();
    } catch (error) {
      return { lines: [], problems: [`identityProvider.issuer: discovery at ${discoveryUrl(settings.issuer)} failed: ${describe(error)}`], warnings: [] };
    }
    const problems: string[] = [];
    const warnings: string[] = [];
    const pkce = metadata.code_challenge_methods_supported;
    const s256 = pkce === undefined ? 'not advertised' : pkce.includes('S256') ? 'supported' : 'not supported';
    if (s256 === 'not supported')
      problems.push(`identityProvider: the provider does not support PKCE with S256 (it lists ${pkce!.join(', ')}), which every sign-in uses`);
    if (s256 === 'not advertised')
      warnings.push('identityProvider: the provider does not say whether it supports PKCE (code_challenge_methods_supported); sign-ins send S256');
    const scopesSupported = metadata.scopes_supported;
    const unsupported = scopesSupported === undefined ? [] : settings.scopes.filter((scope) => !scopesSupported.includes(scope));
    if (unsupported.length > 0) {
      warnings.push(
        `identityProvider.scopes: ${unsupported.map((scope) => `"${scope}"`).join(', ')} not in the provider's scopes_supported (it may refuse sign-ins, or leave those claims out)`,
      );
    }
    const algs = metadata.id_token_signing_alg_values_supported;
    if (algs !== undefined && !algs.includes(settings.idTokenSigningAlg)) {
      problems.push(
        `identityProvider.idTokenSigningAlg: "${settings.idTokenSigningAlg}" is not among the provider's ID token algorithms (${algs.join(', ')}): every ID token would be refused`,
      );
    }
    const lines = [
      `identity provider discovered at ${discoveryUrl(settings.issuer)}`,
      `  issuer                  ${metadata.issuer}`,
      `  authorization endpoint  ${metadata.authorization_endpoint ?? '(none)'}`,
      `  token endpoint          ${metadata.token_endpoint ?? '(none)'}`,
      `  jwks_uri                ${metadata.jwks_uri ?? '(none)'}`,
      `  end session endpoint    ${metadata.end_session_endpoint ?? '(none: sign-out ends the gateway session only)'}`,
      `  PKCE S256               ${s256}`,
      `  scopes                  ${settings.scopes.map((scope) => `${scope} ${scopesSupported === undefined ? '(not advertised)' : scopesSupported.includes(scope) ? '(supported)' : '(NOT supported)'}`).join(', ')}`,
      `  ID token algorithm      ${settings.idTokenSigningAlg} ${algs === undefined ? '(not advertised)' : algs.includes(settings.idTokenSigningAlg) ? '(supported)' : '(NOT supported)'}`,
    ];
    if (metadata.token_endpoint === undefined) problems.push('identityProvider: the provider names no token_endpoint: no sign-in can complete');
    if (metadata.jwks_uri === undefined) problems.push('identityProvider: the provider names no jwks_uri: no ID token can be verified');
    return { lines, problems, warnings };
  } finally {
    await client.close();
  }
}

function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
}

/** The reason and what caused it, e.g. "discovery_failed:… (connect ECONNREFUSED 127.0.0.1:1)". */
function describe(error: unknown): string {
  const reason = error instanceof GatehouseError ? error.reason : error instanceof Error ? error.message : String(error);
  let cause = error instanceof Error ? error.cause : undefined;
  const causes: string[] = [];
  while (cause instanceof Error && causes.length < 3) {
    if (!reason.includes(cause.message)) causes.push(cause.message);
    cause = cause.cause;
  }
  return causes.length > 0 ? `${reason} (${causes.join(': ')})` : reason;
}

import { decodeJwt, decodeProtectedHeader, importJWK, SignJWT, type JWK, type JWTPayload } from 'jose';
import type { IdpFetch } from '../../src/signin/oidc-client.ts';
import { createCaFetch } from '../../dev/lib/browser-client.ts';

export interface ForgedToken {
  readonly claims: JWTPayload;
  readonly header: { alg: string; kid?: string; typ?: string };
  /** Sign with this private JWK instead of the provider's own key. */
  readonly key?: JWK;
  /** Emit an unsigned token (alg "none"). */
  readonly unsigned?: boolean;
}

export interface TokenTamper {
  /** Pass as the gateway's `idpFetch`. */
  readonly fetch: IdpFetch;
  /** Rewrites the ID token of the next token response; cleared after use. */
  next: ((token: ForgedToken) => ForgedToken) | undefined;
  close(): Promise<void>;
}

/**
 * Stands between the gateway and the real identity provider, the way a
 * compromised network or provider would: every request goes to the real
 * provider, and the ID token of a token response can be replaced by one with
 * altered claims, signed with the provider's own key (so that only the claim
 * checks stand in the way) or with another key, or not signed at all.
 */
export function createTokenTamper(caPem: string, providerKey: JWK): TokenTamper {
  const upstream = createCaFetch({ ca: caPem });
  const tamper: TokenTamper = {
    next: undefined,
    close: () => upstream.close(),
    fetch: async (url, init) => {
      const response = await upstream.fetch(url, init);
      const mutate = tamper.next;
      const isTokenResponse = init.method === 'POST' && init.body instanceof URLSearchParams && init.body.get('grant_type') === 'authorization_code';
      if (!mutate || !isTokenResponse || !response.ok) return response;
      tamper.next = undefined;
      const body = (await response.json()) as { id_token: string } & Record<string, unknown>;
      const original: ForgedToken = {
        claims: decodeJwt(body.id_token),
        header: decodeProtectedHeader(body.id_token) as ForgedToken['header'],
      };
      const forged = mutate(original);
      body.id_token = await sign(forged, providerKey);
      return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
    },
  };
  return tamper;
}

async function sign(token: ForgedToken, providerKey: JWK): Promise<string> {
  if (token.unsigned) {
    const encode = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
    return `${encode({ ...token.header, alg: 'none' })}.${encode(token.claims)}.`;
  }
  const jwk = token.key ?? providerKey;
  const key = await importJWK(jwk, token.header.alg);
  return new SignJWT(token.claims).setProtectedHeader(token.header).sign(key);
}

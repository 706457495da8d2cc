/**
 * Request headers that some backend may take as a statement of who the user
 * is, or where the request came from. A client can type any of them, so none
 * of them is ever forwarded as the client sent it: Gatehouse removes them all
 * and then sets its own (forwarding headers, request id, the app's configured
 * identity headers, the signed assertion).
 *
 * A trailing `*` matches a prefix. Names are compared in lower case, after
 * every request header whose name contains `_` has already been dropped.
 */
export const FORWARDING_HEADERS: readonly string[] = [
  'x-forwarded-*',
  'forwarded',
  'x-real-ip',
  'x-client-ip',
  'x-cluster-client-ip',
  'true-client-ip',
  'cf-connecting-ip',
  'x-original-url',
  'x-original-uri',
  'x-original-host',
  'x-rewrite-url',
  'x-request-id',
  'x-gatehouse-*',
];

/**
 * Identity headers that other identity-aware proxies set, which a backend
 * moved from behind one of them may still trust: Authelia and Apache
 * (`Remote-*`), oauth2-proxy (`X-Auth-Request-*`), Azure App Service
 * (`X-Ms-Client-Principal*`, `X-Ms-Token-*`), Cloudflare Access (`Cf-Access-*`),
 * Google IAP (`X-Goog-Authenticated-*`, `X-Goog-Iap-Jwt-Assertion`), AWS ALB
 * (`X-Amzn-Oidc-*`), Pomerium (`X-Pomerium-*`), Grafana's auth proxy
 * (`X-Webauth-*`) and common home-made names. `forwarding.passRequestHeaders`
 * lets chosen ones through, for a deployment whose own front proxy sets them.
 */
export const WELL_KNOWN_IDENTITY_HEADERS: readonly string[] = [
  'remote-*',
  'x-remote-*',
  'x-auth-request-*',
  'x-ms-client-principal*',
  'x-ms-token-*',
  'cf-access-*',
  'x-goog-authenticated-*',
  'x-goog-iap-jwt-assertion',
  'x-amzn-oidc-*',
  'x-pomerium-*',
  'x-webauth-*',
  'x-authenticated-*',
  'x-user',
  'x-user-id',
  'x-user-name',
  'x-username',
  'x-user-email',
  'x-user-groups',
  'x-email',
  'x-groups',
];

/** A set of exact names and prefixes (`name*`), compared in lower case. */
export interface HeaderNameSet {
  has(lowerCaseName: string): boolean;
}

export function headerNameSet(patterns: Iterable<string>): HeaderNameSet {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const pattern of patterns) {
    const lower = pattern.toLowerCase();
    if (lower.endsWith('*')) prefixes.push(lower.slice(0, -1));
    else exact.add(lower);
  }
  return {
    has(name) {
      if (exact.has(name)) return true;
      for (const prefix of prefixes) if (name.startsWith(prefix)) return true;
      return false;
    },
  };
}

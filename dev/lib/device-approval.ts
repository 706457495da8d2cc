import * as oidc from 'openid-client';
import { BrowserClient, createCaFetch } from './browser-client.ts';

/** The audience (RFC 8707 resource) of admin tokens for connector registration. */
export const CONNECTOR_RESOURCE = 'urn:gatehouse:connectors';
/** The scope the gateway asks of admin tokens (`connectors.admin.scope`). */
export const CONNECTOR_SCOPE = 'openid connectors:register';
/** The `gatehouse-connector` CLI's public client at the identity provider. */
export const DEVICE_CLIENT_ID = 'gatehouse-connector';
const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** The identity provider's registration of the connector CLI: a public client for the device flow. */
export const DEVICE_CLIENT = { client_id: DEVICE_CLIENT_ID, redirect_uris: [], grant_types: [DEVICE_CODE_GRANT], response_types: [] };

/** The identity provider's registration of the connector admin API, so that admin tokens are JWTs for it. */
export const CONNECTOR_RESOURCE_SERVER = { [CONNECTOR_RESOURCE]: { scope: 'connectors:register' } };

/**
 * Completes the person's side of an OAuth device login at the development
 * identity provider: open the verification page, enter the code, sign in.
 * The demo does this for its admin so that it starts without a click, tests
 * and the benchmark to get real admin tokens; a real operator does it in a
 * browser.
 */
export async function approveDeviceLogin(verificationUri: string, userCode: string, login: string, password: string, ca: string): Promise<void> {
  const browser = new BrowserClient({ ca });
  try {
    const input = await browser.navigate(verificationUri);
    const confirm = await browser.submitForm(input.response, input.response.url, { user_code: userCode });
    const form = await browser.submitForm(confirm.response, confirm.response.url, {});
    const done = await browser.submitForm(form.response, form.response.url, { login, password });
    const text = await done.response.text();
    if (!/Sign-in complete/.test(text)) throw new Error(`the device login of ${login} was not approved:\n${text.slice(0, 500)}`);
  } finally {
    await browser.close();
  }
}

export interface AdminTokens {
  /** A real access token for the connector admin API, from the device flow approved as `login`. */
  get(login: string, password: string): Promise<string>;
  close(): Promise<void>;
}

/** Admin tokens from the development identity provider at `issuer`, whose certificate `ca` signed. */
export async function adminTokens(issuer: string, ca: string): Promise<AdminTokens> {
  const fetcher = createCaFetch({ ca });
  const client = await oidc.discovery(new URL(issuer), DEVICE_CLIENT_ID, undefined, oidc.None(), { [oidc.customFetch]: fetcher.fetch });
  return {
    async get(login, password) {
      const device = await oidc.initiateDeviceAuthorization(client, { scope: CONNECTOR_SCOPE, resource: CONNECTOR_RESOURCE });
      await approveDeviceLogin(device.verification_uri, device.user_code, login, password, ca);
      return (await oidc.pollDeviceAuthorizationGrant(client, device)).access_token;
    },
    close: () => fetcher.close(),
  };
}

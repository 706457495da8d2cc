import { z } from 'zod';
import { GROUPS_ENDPOINT_MAX_PAGES } from '../limits.ts';

const isLoopback = (hostname: string): boolean => {
  const bare = hostname.replace(/^\[|\]$/g, '');
  return bare === 'localhost' || bare === '::1' || /^127\.\d+\.\d+\.\d+$/.test(bare);
};

/**
 * Where groups are read from a user's token (`identityProvider.groupsClaim`): a claim name, or a dotted path into
 * an object claim (`realm_access.roles`). A name present as a whole key wins, since namespaced claims
 * (`https://example.com/groups`) contain dots.
 */
export const groupsClaimSchema = z.string().min(1, 'must not be empty').max(256).default('groups');

/**
 * `identityProvider.groupsEndpoint`: on group overage, the sign-in asks this URL for the user's groups with the
 * user's access token, in Microsoft Graph's shape (`{ value: [{ id }], '@odata.nextLink' }`). The token goes only to
 * this origin, over TLS (plain http to loopback only).
 */
export const groupsEndpointSchema = z.strictObject({
  url: z.string().superRefine((value, ctx) => {
    if (!URL.canParse(value)) {
      ctx.addIssue({
        code: 'custom',
        message: 'must be an absolute URL, e.g. "https://graph.microsoft.com/v1.0/me/transitiveMemberOf/microsoft.graph.group?$select=id"',
      });
      return;
    }
    const url = new URL(value);
    if (url.username || url.password) ctx.addIssue({ code: 'custom', message: 'must not contain credentials' });
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname))) {
      ctx.addIssue({ code: 'custom', message: "must be an https URL: it is sent the user's access token (plain http is accepted for loopback only)" });
    }
  }),
  /** Seconds to wait for each page. Default: identityProvider.timeoutSeconds. */
  timeoutSeconds: z.number().int().positive().max(120).optional(),
  /** Pages followed through `@odata.nextLink` at most; more fails the sign-in closed. */
  maxPages: z.number().int().min(1).max(GROUPS_ENDPOINT_MAX_PAGES).default(GROUPS_ENDPOINT_MAX_PAGES),
});

export type GroupsEndpointConfig = z.output<typeof groupsEndpointSchema>;

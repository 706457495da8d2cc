import { z } from 'zod';

const headerPattern = z.string().regex(/^[A-Za-z0-9-]{1,64}\*?$/, 'must be a header name, or a prefix ending in "*", e.g. "X-Corp-User" or "X-Corp-*"');

/** What the forwarding step removes from requests beyond its fixed rules (see docs/security.md). */
export const forwardingSchema = z
  .strictObject({
    /** More request headers (or prefixes ending in `*`) to remove from every request before it is forwarded. */
    stripRequestHeaders: z.array(headerPattern).default([]),
    /**
     * Well-known identity headers of other proxies (e.g. `Remote-User`) to let
     * through after all, for a deployment whose own front proxy sets them.
     * Forwarding headers and the apps' configured identity headers are always removed.
     */
    passRequestHeaders: z.array(headerPattern).default([]),
  })
  .prefault({});

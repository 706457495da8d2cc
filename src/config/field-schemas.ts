/** Field schemas more than one section of the configuration uses: URLs, address ranges, TLS files. */
import { z } from 'zod';
import { parseCidr } from '../ip/cidr.ts';

/**
 * A secret given inline. "undefined" or "null" is what a template or a
 * script writes for a variable it did not have: refused, or it would be
 * sent to the identity provider as the secret.
 */
export const inlineSecret = z
  .string()
  .min(1, 'must not be empty')
  .refine((value) => !/^(?:undefined|null)$/.test(value.trim()), {
    message: 'is the text "undefined" or "null": most likely an environment variable that was not set where the file or object was written',
  });

export const httpsOrLoopbackHttpUrl = (what: string, example: string) =>
  z.string().superRefine((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: `must be an absolute URL, e.g. "${example}"` });
      return;
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      ctx.addIssue({ code: 'custom', message: `${what} must be an http(s) URL, e.g. "${example}"` });
    }
    if (url.username || url.password) {
      ctx.addIssue({ code: 'custom', message: `${what} must not contain credentials` });
    }
  });

export const externalUrl = httpsOrLoopbackHttpUrl('the external URL', 'https://wiki.example.com').superRefine((value, ctx) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return;
  }
  if (url.pathname !== '/' || url.search || url.hash) {
    ctx.addIssue({
      code: 'custom',
      message: 'must be an origin only (scheme, host and optional port, no path), e.g. "https://wiki.example.com"',
    });
  }
  if (url.hostname.endsWith('.')) {
    // Requests are matched by host name without its trailing dot, so an app published with one could never be reached.
    ctx.addIssue({ code: 'custom', message: `must name the host without a trailing dot, e.g. "${url.protocol}//${url.host.replace(/\.(?=:\d+$|$)/, '')}"` });
  }
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    ctx.addIssue({
      code: 'custom',
      message:
        'must use https: session cookies are only safe over TLS (plain http is accepted for localhost only). Terminate TLS at the gateway or at a load balancer in front of it and write the https URL users see.',
    });
  }
});

export const cidr = z.string().superRefine((value, ctx) => {
  const parsed = parseCidr(value);
  if (typeof parsed === 'string') {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} ${parsed}; write an IPv4 or IPv6 address or CIDR range, e.g. "10.0.0.0/8"` });
  }
});

export const tlsFiles = z
  .strictObject({
    cert: z.string().optional(),
    certFile: z.string().min(1).optional(),
    key: z.string().optional(),
    keyFile: z.string().min(1).optional(),
  })
  .superRefine((tls, ctx) => {
    if ((tls.cert === undefined) === (tls.certFile === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of "cert" or "certFile"' });
    }
    if ((tls.key === undefined) === (tls.keyFile === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of "key" or "keyFile"' });
    }
  });

function isLoopbackHost(hostname: string): boolean {
  const bare = hostname.replace(/^\[|\]$/g, '');
  return bare === 'localhost' || bare.endsWith('.localhost') || bare === '::1' || /^127\.\d+\.\d+\.\d+$/.test(bare);
}

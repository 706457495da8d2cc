import type { AppConfig } from '../config/parse.ts';

/**
 * Link translation (headers only, never bodies): what the app says about its
 * internal address — redirects and cookie scopes — is rewritten to the
 * external URL users see.
 */
export interface LinkTranslator {
  location(value: string): string;
  setCookie(line: string): string;
}

export function createLinkTranslator(app: AppConfig): LinkTranslator {
  const internal = new URL(app.internalUrl);
  const external = new URL(app.externalUrl);
  const basePath = internal.pathname.replace(/\/+$/, '');
  const internalHost = internal.hostname.toLowerCase();

  const mapPath = (path: string): string => {
    if (!basePath) return path;
    if (path === basePath) return '/';
    return path.startsWith(`${basePath}/`) ? path.slice(basePath.length) : path;
  };

  return {
    location(value) {
      let url: URL;
      try {
        url = new URL(value, internal);
      } catch {
        return value;
      }
      const absolute = /^[a-z][a-z0-9+.-]*:/i.test(value) || value.startsWith('//');
      if (absolute && url.origin !== internal.origin) return value;
      const mapped = `${mapPath(url.pathname)}${url.search}${url.hash}`;
      return absolute ? `${external.origin}${mapped}` : value.startsWith('/') ? mapped : value;
    },
    setCookie(line) {
      const parts = line.split(';');
      const out = [parts[0] ?? ''];
      for (const raw of parts.slice(1)) {
        const attribute = raw.trim();
        const [name = '', ...rest] = attribute.split('=');
        const value = rest.join('=').trim();
        const key = name.trim().toLowerCase();
        // A cookie scoped to the internal host would be dropped by the browser: make it host-only on the external host.
        if (key === 'domain' && value.replace(/^\./, '').toLowerCase() === internalHost) continue;
        if (key === 'path') {
          out.push(`Path=${mapPath(value || '/')}`);
          continue;
        }
        out.push(attribute);
      }
      return out.join('; ');
    },
  };
}

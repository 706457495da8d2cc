import type { AppConfig } from './parse.ts';

/** The parts of an app's external URL the request path needs on every request. */
export interface ExternalUrl {
  readonly origin: string;
  /** host[:port], the port only when it is not the scheme's default. */
  readonly host: string;
  /** "https" or "http", without the colon. */
  readonly scheme: string;
  readonly secure: boolean;
}

const parsed = new WeakMap<AppConfig, ExternalUrl>();

/** Parsed once per app: a URL parse on every request showed up in bench/ profiles. */
export function externalUrlOf(app: AppConfig): ExternalUrl {
  let url = parsed.get(app);
  if (!url) {
    const { origin, host, protocol } = new URL(app.externalUrl);
    url = Object.freeze({ origin, host, scheme: protocol.slice(0, -1), secure: protocol === 'https:' });
    parsed.set(app, url);
  }
  return url;
}

import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { z } from 'zod';
import { GatehouseConfigError } from '../errors.ts';
import { gatewayConfigSchema, type ParsedAppConfig, type ParsedGatewayConfig } from './schema.ts';

export interface SessionSecret {
  readonly id: number;
  readonly secret: string;
}

export type AppConfig = Readonly<Omit<ParsedAppConfig, 'internalTls'>> & {
  readonly internalTls?: { readonly ca?: string; readonly serverName?: string };
};

/** A validated configuration with every file reference read. Frozen. */
export interface GatewayConfig {
  readonly identityProvider: Readonly<
    Omit<ParsedGatewayConfig['identityProvider'], 'clientSecretFile' | 'caFile' | 'scopes'> & {
      readonly scopes: readonly string[];
    }
  >;
  readonly session: Readonly<Omit<ParsedGatewayConfig['session'], 'secrets'> & { readonly secrets: readonly SessionSecret[] }>;
  readonly trustedProxies: readonly string[];
  readonly forwarding: Readonly<{ stripRequestHeaders: readonly string[]; passRequestHeaders: readonly string[] }>;
  readonly apps: readonly AppConfig[];
  readonly server: Readonly<Omit<ParsedGatewayConfig['server'], 'tls'> & { readonly tls?: TlsMaterial }>;
  readonly connectors?: ConnectorsConfig;
  readonly identityAssertion: Readonly<{ issuer: string; lifetime: number; key?: string }>;
  readonly namedLocations: Readonly<Record<string, readonly string[]>>;
  readonly mfa: Readonly<ParsedGatewayConfig['mfa']>;
  readonly risk: ParsedGatewayConfig['risk'];
  readonly audit: ParsedGatewayConfig['audit'];
  /** Where relative file names in the configuration were resolved from. */
  readonly baseDir: string;
}

export interface TlsMaterial {
  readonly cert: string;
  readonly key: string;
}

type ParsedConnectors = NonNullable<ParsedGatewayConfig['connectors']>;

export type ConnectorsConfig = Readonly<
  Omit<ParsedConnectors, 'tls' | 'admin' | 'listen'> & {
    readonly tls?: TlsMaterial;
    readonly listen: Readonly<ParsedConnectors['listen']>;
    readonly admin: Readonly<ParsedConnectors['admin'] & { readonly issuer: string }>;
  }
>;

export interface ParseOptions {
  /** Relative `…File` paths are resolved against this folder (the config file's). Default: the working directory. */
  readonly baseDir?: string;
}

/** Renders a zod issue path as `apps[2].internalUrl`. */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '(root)';
}

export function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${formatIssuePath(issue.path)}: ${issue.message}`);
}

/**
 * Validates a configuration once, at the edge, and returns it frozen.
 * Throws GatehouseConfigError naming every key that is wrong and why.
 */
export function parseGatewayConfig(input: unknown, options: ParseOptions = {}): GatewayConfig {
  // A configuration parsed before carries the folder its files were read from.
  let carriedBaseDir: string | undefined;
  if (input !== null && typeof input === 'object' && 'baseDir' in input) {
    const { baseDir, ...rest } = input as Record<string, unknown>;
    if (typeof baseDir === 'string') carriedBaseDir = baseDir;
    input = rest;
  }
  const result = gatewayConfigSchema.safeParse(input);
  if (!result.success) throw new GatehouseConfigError(formatIssues(result.error));
  const parsed = result.data;
  const baseDir = options.baseDir ?? carriedBaseDir ?? process.cwd();
  const problems: string[] = [];

  const readRef = (key: string, file: string | undefined, inline: string | undefined): string | undefined => {
    if (file === undefined) return inline;
    const path = isAbsolute(file) ? file : resolve(baseDir, file);
    try {
      return readFileSync(path, 'utf8').trim();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      problems.push(`${key}: cannot read "${file}" (${code})`);
      return undefined;
    }
  };

  const secrets = parsed.session.secrets.map((entry, index) => {
    const secret = readRef(`session.secrets[${index}].secretFile`, entry.secretFile, entry.secret) ?? '';
    if (entry.secretFile !== undefined && secret && secret.length < 32) {
      problems.push(`session.secrets[${index}].secretFile: the secret in "${entry.secretFile}" must be at least 32 characters`);
    }
    return Object.freeze({ id: entry.id, secret });
  });

  const { clientSecretFile, caFile, ...idp } = parsed.identityProvider;
  const clientSecret = readRef('identityProvider.clientSecretFile', clientSecretFile, idp.clientSecret);
  const ca = readRef('identityProvider.caFile', caFile, idp.ca);

  const resolveInternalTls = (
    index: number,
    tls: { ca?: string | undefined; caFile?: string | undefined; serverName?: string | undefined },
  ): { ca?: string; serverName?: string } => {
    const ca = readRef(`apps[${index}].internalTls.caFile`, tls.caFile, tls.ca);
    return Object.freeze({ ...(ca !== undefined ? { ca } : {}), ...(tls.serverName !== undefined ? { serverName: tls.serverName } : {}) });
  };
  const readTls = (
    at: string,
    files: { cert?: string | undefined; certFile?: string | undefined; key?: string | undefined; keyFile?: string | undefined } | undefined,
  ): TlsMaterial | undefined => {
    if (!files) return undefined;
    const cert = readRef(`${at}.certFile`, files.certFile, files.cert);
    const key = readRef(`${at}.keyFile`, files.keyFile, files.key);
    return cert !== undefined && key !== undefined ? Object.freeze({ cert, key }) : undefined;
  };
  const tls = readTls('server.tls', parsed.server.tls);
  let connectors: ConnectorsConfig | undefined;
  if (parsed.connectors) {
    const { tls: connectorTlsFiles, ...rest } = parsed.connectors;
    const connectorTls = readTls('connectors.tls', connectorTlsFiles);
    connectors = Object.freeze({
      ...rest,
      listen: Object.freeze({ ...rest.listen }),
      stateDir: isAbsolute(rest.stateDir) ? rest.stateDir : resolve(baseDir, rest.stateDir),
      admin: Object.freeze({ ...rest.admin, issuer: rest.admin.issuer ?? parsed.identityProvider.issuer }),
      ...(connectorTls ? { tls: connectorTls } : {}),
    });
  }

  const { keyFile: assertionKeyFile, ...assertion } = parsed.identityAssertion;
  const assertionKey = readRef('identityAssertion.keyFile', assertionKeyFile, assertion.key);

  if (problems.length > 0) throw new GatehouseConfigError(problems);

  const { tls: _tls, ...server } = parsed.server;
  return Object.freeze({
    identityProvider: Object.freeze({
      ...idp,
      scopes: Object.freeze([...idp.scopes]),
      ...(clientSecret !== undefined ? { clientSecret } : {}),
      ...(ca !== undefined ? { ca } : {}),
    }),
    session: Object.freeze({ ...parsed.session, secrets: Object.freeze(secrets) }),
    trustedProxies: Object.freeze([...parsed.trustedProxies]),
    forwarding: Object.freeze({
      stripRequestHeaders: Object.freeze([...parsed.forwarding.stripRequestHeaders]),
      passRequestHeaders: Object.freeze([...parsed.forwarding.passRequestHeaders]),
    }),
    apps: Object.freeze(
      parsed.apps.map(({ internalTls, ...app }, index) =>
        Object.freeze({
          ...app,
          ...(internalTls ? { internalTls: resolveInternalTls(index, internalTls) } : {}),
          timeouts: Object.freeze({ ...app.timeouts }),
          session: Object.freeze({ ...app.session }),
          identityHeaders: Object.freeze({ ...app.identityHeaders }),
        }),
      ),
    ),
    server: Object.freeze({ ...server, ...(tls ? { tls } : {}) }),
    ...(connectors ? { connectors } : {}),
    identityAssertion: Object.freeze({ ...assertion, ...(assertionKey !== undefined ? { key: assertionKey } : {}) }),
    namedLocations: Object.freeze({ ...parsed.namedLocations }),
    mfa: Object.freeze({ ...parsed.mfa }),
    risk: parsed.risk,
    audit: parsed.audit,
    baseDir,
  });
}

import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { GatehouseConfigError } from '../errors/index.ts';
import { MIN_SECRET_LENGTH } from '../limits.ts';
import { caKeyRingProblem } from '../pki/ca-key-ring.ts';
import { configErrorMap, formatIssues } from './issue-messages.ts';
import { assertionKeyProblem, caBundleProblem, tlsPairProblem } from './pem-checks.ts';
import { defaultStoreUrl, resolveStoreUrl } from './store-schema.ts';
import { gatewayConfigSchema, type ParsedAppConfig, type ParsedGatewayConfig } from './schema.ts';

export interface SessionSecret {
  readonly id: number;
  readonly secret: string;
}

/** One published app as parsed from `apps[]`: id, external and internal URLs, pre-authentication, policies, identity headers and timeouts, with files already read. */
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
  readonly identityAssertion: Readonly<{ issuer: string; lifetime: number; rotation: number; key?: string }>;
  readonly namedLocations: Readonly<Record<string, readonly string[]>>;
  readonly mfa: Readonly<ParsedGatewayConfig['mfa']>;
  readonly risk: ParsedGatewayConfig['risk'];
  readonly audit: ParsedGatewayConfig['audit'];
  /** Where state is kept: `store.url` with a relative SQLite path made absolute, or the default (see store-schema.ts). */
  readonly store: Readonly<{ url: string }>;
  /** The admin listener (health, readiness, metrics), when configured. */
  readonly admin?: AdminConfig;
  /** The log's level and format (for `gatehouse serve`) and the access log. */
  readonly logging: ParsedGatewayConfig['logging'];
  /** Bounds on what clients may ask of the gateway (`limits.rate`, …). */
  readonly limits: ParsedGatewayConfig['limits'];
  /** Where relative file names in the configuration were resolved from. */
  readonly baseDir: string;
}

export interface AdminConfig {
  readonly listen: Readonly<{ host: string; port: number }>;
  readonly tls?: TlsMaterial;
}

export interface TlsMaterial {
  readonly cert: string;
  readonly key: string;
}

type ParsedConnectors = NonNullable<ParsedGatewayConfig['connectors']>;

export type ConnectorsConfig = Readonly<
  Omit<ParsedConnectors, 'tls' | 'admin' | 'listen' | 'caKeyFile'> & {
    readonly tls?: TlsMaterial;
    readonly listen: Readonly<ParsedConnectors['listen']>;
    readonly admin: Readonly<ParsedConnectors['admin'] & { readonly issuer: string }>;
  }
>;

export interface ParseOptions {
  /** Relative `…File` paths are resolved against this folder (the config file's). Default: the working directory. */
  readonly baseDir?: string;
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
  const result = gatewayConfigSchema.safeParse(input, { error: configErrorMap });
  if (!result.success) throw new GatehouseConfigError(formatIssues(result.error, gatewayConfigSchema));
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

  /** How a problem with a value names where it came from: the inline key, or the `…File` key and its file. */
  const subject = (at: string, file: string | undefined): string => (file === undefined ? `${at}:` : `${at}File: "${file}"`);
  const checkCaBundle = (at: string, file: string | undefined, pem: string | undefined): void => {
    const problem = pem === undefined ? undefined : caBundleProblem(pem);
    if (problem !== undefined) problems.push(`${subject(at, file)} ${problem}`);
  };

  const secrets = parsed.session.secrets.map((entry, index) => {
    const secret = readRef(`session.secrets[${index}].secretFile`, entry.secretFile, entry.secret);
    // The schema measures inline secrets; one read from a file is measured here, an empty file included.
    if (entry.secretFile !== undefined && secret !== undefined && secret.length < MIN_SECRET_LENGTH) {
      problems.push(
        `session.secrets[${index}].secretFile: the secret in "${entry.secretFile}" must be at least ${MIN_SECRET_LENGTH} characters${secret.length === 0 ? ' (the file is empty)' : ''}`,
      );
    }
    return Object.freeze({ id: entry.id, secret: secret ?? '' });
  });

  const { clientSecretFile, caFile, ...idp } = parsed.identityProvider;
  const clientSecret = readRef('identityProvider.clientSecretFile', clientSecretFile, idp.clientSecret);
  if (clientSecretFile !== undefined && clientSecret === '') problems.push(`identityProvider.clientSecretFile: "${clientSecretFile}" is empty`);
  const ca = readRef('identityProvider.caFile', caFile, idp.ca);
  checkCaBundle('identityProvider.ca', caFile, ca);

  const resolveInternalTls = (
    index: number,
    tls: { ca?: string | undefined; caFile?: string | undefined; serverName?: string | undefined },
  ): { ca?: string; serverName?: string } => {
    const ca = readRef(`apps[${index}].internalTls.caFile`, tls.caFile, tls.ca);
    checkCaBundle(`apps[${index}].internalTls.ca`, tls.caFile, ca);
    return Object.freeze({ ...(ca !== undefined ? { ca } : {}), ...(tls.serverName !== undefined ? { serverName: tls.serverName } : {}) });
  };
  const readTls = (
    at: string,
    files: { cert?: string | undefined; certFile?: string | undefined; key?: string | undefined; keyFile?: string | undefined } | undefined,
  ): TlsMaterial | undefined => {
    if (!files) return undefined;
    const cert = readRef(`${at}.certFile`, files.certFile, files.cert);
    const key = readRef(`${at}.keyFile`, files.keyFile, files.key);
    if (cert === undefined || key === undefined) return undefined;
    const wrong = tlsPairProblem(cert, key);
    if (wrong?.part === 'cert') problems.push(`${subject(`${at}.cert`, files.certFile)} ${wrong.problem}`);
    if (wrong?.part === 'key') problems.push(`${subject(`${at}.key`, files.keyFile)} ${wrong.problem}`);
    if (wrong?.part === 'pair') problems.push(`${at}: ${wrong.problem}`);
    return Object.freeze({ cert, key });
  };
  const tls = readTls('server.tls', parsed.server.tls);
  const adminTls = readTls('admin.tls', parsed.admin?.tls);
  let connectors: ConnectorsConfig | undefined;
  if (parsed.connectors) {
    const { tls: connectorTlsFiles, caKeyFile, ...rest } = parsed.connectors;
    const connectorTls = readTls('connectors.tls', connectorTlsFiles);
    const caKey = readRef('connectors.caKeyFile', caKeyFile, rest.caKey);
    const caKeyWrong = caKey === undefined ? undefined : caKeyRingProblem(caKey);
    if (caKeyWrong !== undefined) problems.push(`${subject('connectors.caKey', caKeyFile)} ${caKeyWrong}`);
    connectors = Object.freeze({
      ...rest,
      listen: Object.freeze({ ...rest.listen }),
      stateDir: isAbsolute(rest.stateDir) ? rest.stateDir : resolve(baseDir, rest.stateDir),
      admin: Object.freeze({ ...rest.admin, issuer: rest.admin.issuer ?? parsed.identityProvider.issuer }),
      ...(connectorTls ? { tls: connectorTls } : {}),
      ...(caKey !== undefined ? { caKey } : {}),
    });
  }

  const { keyFile: assertionKeyFile, ...assertion } = parsed.identityAssertion;
  const assertionKey = readRef('identityAssertion.keyFile', assertionKeyFile, assertion.key);
  const assertionKeyWrong = assertionKey === undefined ? undefined : assertionKeyProblem(assertionKey);
  if (assertionKeyWrong !== undefined) problems.push(`${subject('identityAssertion.key', assertionKeyFile)} ${assertionKeyWrong}`);

  // Resolved before the problems are counted, so a missing or broken app CA file is reported with the rest.
  const apps = parsed.apps.map(({ internalTls, ...app }, index) =>
    Object.freeze({
      ...app,
      ...(internalTls ? { internalTls: resolveInternalTls(index, internalTls) } : {}),
      timeouts: Object.freeze({ ...app.timeouts }),
      session: Object.freeze({ ...app.session }),
      identityHeaders: Object.freeze({ ...app.identityHeaders }),
    }),
  );

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
    apps: Object.freeze(apps),
    server: Object.freeze({ ...server, ...(tls ? { tls } : {}) }),
    ...(connectors ? { connectors } : {}),
    identityAssertion: Object.freeze({ ...assertion, ...(assertionKey !== undefined ? { key: assertionKey } : {}) }),
    namedLocations: Object.freeze({ ...parsed.namedLocations }),
    mfa: Object.freeze({ ...parsed.mfa }),
    risk: parsed.risk,
    audit: parsed.audit,
    limits: parsed.limits,
    logging: Object.freeze({ ...parsed.logging, accessLog: Object.freeze({ ...parsed.logging.accessLog }) }),
    ...(parsed.admin ? { admin: Object.freeze({ listen: Object.freeze({ ...parsed.admin.listen }), ...(adminTls ? { tls: adminTls } : {}) }) } : {}),
    store: Object.freeze({ url: parsed.store ? resolveStoreUrl(parsed.store.url, baseDir) : defaultStoreUrl(connectors?.stateDir) }),
    baseDir,
  });
}

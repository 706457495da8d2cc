/**
 * The package's public API, pinned: what each entry point exports, by name,
 * as a user's code imports it (through package.json's `exports`, with the
 * gatehouse-source condition). Adding an export is a decision, so it fails
 * here until this list says so; and every export, value or type, carries a
 * TSDoc comment for the user's editor to show.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import * as gatehouse from 'gatehouse';
import * as connector from 'gatehouse/connector';
import * as testing from 'gatehouse/testing';

interface EntryPoint {
  readonly module: Record<string, unknown>;
  readonly file: string;
  /** What `import * as m` holds at run time. */
  readonly values: readonly string[];
  /** What exists only for the type checker. */
  readonly types: readonly string[];
}

const ENTRY_POINTS: Readonly<Record<string, EntryPoint>> = {
  gatehouse: {
    module: gatehouse,
    file: 'src/index.ts',
    values: [
      'GatehouseConfigError',
      'GatehouseError',
      'createAdminListener',
      'createGateway',
      'createGatewayServer',
      'fileSink',
      'jsonLinesSink',
      'loadGatewayConfigFile',
      'memorySink',
      'parseGatewayConfig',
      'reloadHandler',
      'scrapeMetrics',
      'shutdown',
      'webhookSink',
    ],
    types: [
      'AdminListener',
      'AdminListenerOptions',
      'AdminRoute',
      'AdminSource',
      'AppConfig',
      'AuditEvent',
      'AuditEventType',
      'AuditLog',
      'AuditOutcome',
      'AuditSink',
      'AuditUser',
      'Clock',
      'FileSink',
      'FileSinkOptions',
      'GatehouseErrorCode',
      'GatehouseStep',
      'Gateway',
      'GatewayConfig',
      'GatewayConfigInput',
      'GatewayOptions',
      'GatewayServer',
      'GatewayServerOptions',
      'HealthCheck',
      'MemorySink',
      'MetricsPrefix',
      'ReloadActor',
      'ReloadInput',
      'Readiness',
      'ReloadResult',
      'RiskLevel',
      'RiskProvider',
      'SessionSideData',
      'SessionStore',
      'ShutdownOptions',
      'ShutdownReport',
      'WebSocketLeaseOptions',
      'WebhookSink',
      'WebhookSinkOptions',
    ],
  },
  'gatehouse/connector': {
    module: connector,
    file: 'src/connector/index.ts',
    values: ['ConnectorArgumentError', 'ConnectorError', 'ConnectorEvents', 'connectorStatus', 'registerConnector', 'resolveProxySettings', 'runConnector'],
    types: [
      'ConnectorErrorCode',
      'ConnectorEventMap',
      'ConnectorStatus',
      'ConnectorStatusOptions',
      'OutboundProxySettings',
      'ReconnectPolicy',
      'ResolveProxyOptions',
      'RegisterOptions',
      'RegistrationSummary',
      'RunConnectorOptions',
    ],
  },
  'gatehouse/testing': {
    module: testing,
    file: 'src/testing/index.ts',
    values: ['TestingError', 'anonymousAgent', 'signedInAgent', 'startTestBackend', 'startThrowawayConnector'],
    types: [
      'AgentOptions',
      'TestBackend',
      'TestBackendOptions',
      'TestBackendRequest',
      'TestSessionUser',
      'TestedApp',
      'TestingAgent',
      'TestingErrorCode',
      'ThrowawayConnector',
      'ThrowawayConnectorOptions',
    ],
  },
};

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** Every name an entry file exports, whether each is a value, and whether its declaration has a TSDoc comment. */
function exportsOf(program: ts.Program, file: string): Map<string, { readonly value: boolean; readonly documented: boolean }> {
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(`${ROOT}${file}`);
  assert.ok(source, `${file} is part of the program`);
  const moduleSymbol = checker.getSymbolAtLocation(source);
  assert.ok(moduleSymbol, `${file} is a module`);
  const found = new Map<string, { value: boolean; documented: boolean }>();
  for (const exported of checker.getExportsOfModule(moduleSymbol)) {
    const target = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const documented = ts.displayPartsToString(target.getDocumentationComment(checker)).trim().length > 0;
    const value = (target.flags & ts.SymbolFlags.Value) !== 0 && !isTypeOnlyExport(exported);
    found.set(exported.name, { value, documented });
  }
  return found;
}

/** `export type { X }` of a class is a type for the user, even though X is a value where it is declared. */
function isTypeOnlyExport(symbol: ts.Symbol): boolean {
  return (symbol.declarations ?? []).some((declaration) => ts.isTypeOnlyExportDeclaration(declaration));
}

describe('public API', function () {
  // Type-checking the entry points' import graphs takes a few seconds.
  this.timeout(60_000);
  let program: ts.Program;

  before(() => {
    const configFile = ts.readConfigFile(`${ROOT}tsconfig.json`, (path) => ts.sys.readFile(path));
    const parsed = ts.parseJsonConfigFileContent(configFile.config, ts.sys, ROOT);
    program = ts.createProgram(
      Object.values(ENTRY_POINTS).map((entry) => `${ROOT}${entry.file}`),
      parsed.options,
    );
  });

  for (const [name, entry] of Object.entries(ENTRY_POINTS)) {
    it(`${name} exports exactly its listed values at run time`, () => {
      assert.deepEqual(Object.keys(entry.module).sort(), [...entry.values].sort());
    });

    it(`${name} exports exactly its listed types, each value and type with a TSDoc comment`, () => {
      const found = exportsOf(program, entry.file);
      const values = [...found].filter(([, info]) => info.value).map(([exported]) => exported);
      const types = [...found].filter(([, info]) => !info.value).map(([exported]) => exported);
      assert.deepEqual(values.sort(), [...entry.values].sort(), 'values, as the type checker sees them');
      assert.deepEqual(types.sort(), [...entry.types].sort(), 'types');
      const undocumented = [...found].filter(([, info]) => !info.documented).map(([exported]) => exported);
      assert.deepEqual(undocumented, [], `exports of ${entry.file} without a TSDoc comment where they are declared`);
    });
  }
});

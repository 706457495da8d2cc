import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runNode, startNode } from '../../dev/lib/processes.ts';

const GATEHOUSE = fileURLToPath(new URL('../../src/cli/gatehouse.ts', import.meta.url));
const CONNECTOR = fileURLToPath(new URL('../../src/cli/gatehouse-connector.ts', import.meta.url));
const CLIS = { gatehouse: GATEHOUSE, 'gatehouse-connector': CONNECTOR } as const;
const REPORT_LOADED = fileURLToPath(new URL('../support/report-loaded-modules.ts', import.meta.url));
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

type Cli = keyof typeof CLIS;
const run = (cli: Cli, args: string[]) => runNode(CLIS[cli], args);

/** The conventions both CLIs keep: --version, --help per command, one-line usage errors with exit code 2. */
describe('command-line conventions', function () {
  this.timeout(60_000);

  it('--version and -v print "gatehouse <version>" and exit 0, before any command (service included)', async () => {
    const cases: [Cli, string[]][] = [
      ['gatehouse', ['--version']],
      ['gatehouse', ['-v']],
      ['gatehouse', ['serve', '--version']],
      ['gatehouse-connector', ['--version']],
      ['gatehouse-connector', ['-v']],
      ['gatehouse-connector', ['service', '--version']],
      ['gatehouse-connector', ['service', 'install', '--version']],
    ];
    const results = await Promise.all(cases.map(([cli, args]) => run(cli, args)));
    results.forEach((result, index) => {
      const what = `${cases[index]![0]} ${cases[index]![1].join(' ')}`;
      assert.equal(result.code, 0, `${what}: ${result.stderr}`);
      assert.equal(result.stdout, `gatehouse ${VERSION}\n`, what);
      assert.equal(result.stderr, '', what);
    });
  });

  it("--help and -h print that command's usage, one line per option and an example on stdout, exit 0", async () => {
    const cases: [Cli, string, string[]][] = [
      ['gatehouse', 'serve', ['--config', '--host', '--port', '--connector-host', '--log-level', '--log-format', '--help']],
      ['gatehouse', 'check', ['--config', '--strict', '--online', '--help']],
      ['gatehouse-connector', 'register', ['--service', '--token', '--state-dir', '--key-type', '--allow', '--group', '--help']],
      ['gatehouse-connector', 'run', ['--state-dir', '--tunnels', '--transport', '--metrics-address', '--log-level', '--allow', '--help']],
      ['gatehouse-connector', 'status', ['--state-dir', '--json', '--help']],
      ['gatehouse-connector', 'service install', ['--service', '--token', '--key-type', '--bin', '--root', '--dry-run', '--help']],
      ['gatehouse-connector', 'service uninstall', ['--purge', '--root', '--dry-run', '--help']],
      ['gatehouse-connector', 'service status', ['--root', '--help']],
    ];
    const results = await Promise.all(
      cases.flatMap(([cli, command]) => [run(cli, [...command.split(' '), '--help']), run(cli, [...command.split(' '), '-h'])]),
    );
    cases.forEach(([cli, command, options], index) => {
      const [long, short] = [results[2 * index]!, results[2 * index + 1]!];
      assert.equal(long.code, 0, `${cli} ${command} --help: ${long.stderr}`);
      assert.equal(long.stderr, '');
      assert.equal(short.stdout, long.stdout, `${cli} ${command} -h`);
      assert.ok(long.stdout.startsWith(`Usage: ${cli} ${command} `), long.stdout);
      const optionLines = long.stdout
        .split('\n\n')
        .find((block) => block.startsWith('Options:'))!
        .split('\n')
        .slice(1);
      for (const option of options) assert.equal(optionLines.filter((line) => /--[\w-]+/.exec(line)?.[0] === option).length, 1, `${command} ${option}`);
      assert.ok(
        optionLines.every((line) => /^ {2}(-\w, | {4})--[\w-]+( \S+)? +\S/.test(line)),
        `one line per option:\n${optionLines.join('\n')}`,
      );
      assert.match(long.stdout, new RegExp(`\\nExamples?:\\n {2}(sudo )?${cli} ${command}( |\\n)`));
    });
  });

  it('the program help lists every command, --version and the exit codes; "service --help" lists its commands', async () => {
    const [gatehouse, connector, service] = await Promise.all([
      run('gatehouse', ['--help']),
      run('gatehouse-connector', ['-h']),
      run('gatehouse-connector', ['service', '--help']),
    ]);
    for (const result of [gatehouse, connector, service]) {
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /--version/);
      assert.match(result.stdout, /Exit codes: 0 .*, 1 .*, 2 usage error/);
    }
    assert.match(gatehouse.stdout, /\n {2}serve +\S[\s\S]*\n {2}check +\S/);
    for (const command of ['register', 'run', 'status', 'service install', 'service uninstall', 'service status']) {
      assert.match(connector.stdout, new RegExp(`\\n {2}${command} +\\S`), command);
    }
    assert.match(service.stdout, /gatehouse-connector service install --service URL/);
    assert.doesNotMatch(service.stdout, /gatehouse-connector register/);
  });

  it('a usage mistake is one line on stderr with a suggestion and where to read more, exit 2, never the full usage', async () => {
    const cases: [Cli, string[], string, string][] = [
      ['gatehouse', ['serve', '--confg', 'x.yaml'], 'unknown option --confg; did you mean --config?', 'gatehouse serve'],
      ['gatehouse', ['check', '--config', 'x.yaml', '--stirct'], 'unknown option --stirct; did you mean --strict?', 'gatehouse check'],
      ['gatehouse', ['serve', '--port'], 'option --port needs a value', 'gatehouse serve'],
      ['gatehouse', ['check', '--strict=yes'], 'option --strict takes no value', 'gatehouse check'],
      ['gatehouse', ['serv'], 'unknown command "serv"; did you mean "serve"?', 'gatehouse'],
      ['gatehouse', [], 'a command is required: serve, check or admin', 'gatehouse'],
      ['gatehouse', ['check', '--config', 'x.yaml', '--host', '::1'], '--host does not apply to check', 'gatehouse check'],
      ['gatehouse-connector', ['run', '--stat-dir', 'state'], 'unknown option --stat-dir; did you mean --state-dir?', 'gatehouse-connector run'],
      [
        'gatehouse-connector',
        ['run', '--state-dir', 'state', '--transport', 'carrier-pigeon'],
        '--transport must be tls or websocket',
        'gatehouse-connector run',
      ],
      ['gatehouse-connector', ['regster'], 'unknown command "regster"; did you mean "register"?', 'gatehouse-connector'],
      ['gatehouse-connector', ['service'], 'service: a command is required: install, uninstall or status', 'gatehouse-connector service'],
      [
        'gatehouse-connector',
        ['service', 'install', '--service', 'https://gatehouse.example.com:8444', '--key-typ', 'rsa'],
        'unknown option --key-typ; did you mean --key-type?',
        'gatehouse-connector service install',
      ],
      [
        'gatehouse-connector',
        ['service', 'install', '--service', 'https://gatehouse.example.com:8444', '--key-type', 'dsa', '--dry-run'],
        'service install: --key-type must be ec or rsa, not "dsa"',
        'gatehouse-connector service install',
      ],
    ];
    const results = await Promise.all(cases.map(([cli, args]) => run(cli, args)));
    results.forEach((result, index) => {
      const [cli, args, message, help] = cases[index]!;
      const what = `${cli} ${args.join(' ')}`;
      assert.equal(result.code, 2, `${what}: ${result.stderr}`);
      assert.equal(result.stdout, '', what);
      assert.equal(result.stderr, `${cli}: ${message}\nRun '${help} --help' for usage.\n`, what);
    });
  });

  it('--version, --help and a usage mistake load neither the gateway nor the connector, nor any library', async () => {
    // Every file a run loads, as the process itself saw it (a module hook given with --import).
    const loaded = async (cli: Cli, args: string[]): Promise<string[]> => {
      const child = spawn(process.execPath, ['--conditions=gatehouse-source', '--import', REPORT_LOADED, CLIS[cli], ...args], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let err = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
      await once(child, 'close');
      return [...err.matchAll(/^loaded (\S+)$/gm)].map((match) => fileURLToPath(match[1]!));
    };
    // The gateway, the tunnel, the connector's run (not its service-unit helpers) and every dependency.
    const heavy = /[\\/](node_modules|src[\\/](gateway|tunnel|store|session|signin)|src[\\/]connector[\\/](?!service-install))[\\/]/;
    const light: [Cli, string[]][] = [
      ['gatehouse', ['--version']],
      ['gatehouse', ['--help']],
      ['gatehouse', ['serve', '--help']],
      ['gatehouse', ['serve', '--confg', 'x.yaml']],
      ['gatehouse', ['serve']],
      ['gatehouse', ['admin', 'apps', '--help']],
      ['gatehouse-connector', ['--version']],
      ['gatehouse-connector', ['run', '--help']],
      ['gatehouse-connector', ['run', '--stat-dir', 'state']],
      ['gatehouse-connector', ['service', 'install', '--help']],
    ];
    const results = await Promise.all(light.map(([cli, args]) => loaded(cli, args)));
    results.forEach((files, index) => {
      const what = `${light[index]![0]} ${light[index]![1].join(' ')}`;
      assert.ok(
        files.some((file) => file.endsWith(`${light[index]![0]}.ts`)),
        `${what}: the hook reported nothing`,
      );
      assert.deepEqual(
        files.filter((file) => heavy.test(file)),
        [],
        what,
      );
    });
    // The same hook sees the gateway loaded by a command that runs it: the check above can fail.
    const check = await loaded('gatehouse', ['check', '--config', join(tmpdir(), 'gatehouse-no-such-config.yaml')]);
    assert.ok(
      check.some((file) => heavy.test(file)),
      'check loads the gateway',
    );
  });

  it('service install takes --key-type and registers with it', async () => {
    const dry = await run('gatehouse-connector', [
      'service',
      'install',
      '--service',
      'https://gatehouse.example.com:8444',
      '--key-type',
      'rsa',
      '--token',
      't',
      '--dry-run',
    ]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /register with https:\/\/gatehouse\.example\.com:8444/);
  });

  describe('gatehouse serve', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-conventions-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    const config = (): string => {
      const file = join(dir, 'gatehouse.yaml');
      writeFileSync(
        file,
        `identityProvider:
  issuer: https://127.0.0.1:9/
  clientId: gatehouse
  clientSecret: s3cret
session:
  secrets: [{ id: 1, secret: a-test-secret-that-is-long-enough-0123456789 }]
connectors:
  listen: { host: 127.0.0.2, port: 0 }
  stateDir: state
apps:
  - id: wiki
    externalUrl: https://wiki.example.com
    internalUrl: http://127.0.0.1:9
    connectorGroup: default
`,
      );
      return file;
    };

    it('prints the connector listener’s address; --connector-host moves it (also across a reload), --host does not', async () => {
      const file = config();
      const fromFile = startNode(GATEHOUSE, ['serve', '--config', file, '--host', '127.0.0.1', '--port', '0'], { cwd: dir });
      try {
        const [, port] = await fromFile.waitFor(/^gatehouse: connector listener on https:\/\/127\.0\.0\.2:(\d+)$/m, 30_000);
        assert.ok(Number(port) > 0);
        await fromFile.waitFor(/listening on http:\/\/127\.0\.0\.1:\d+/);
      } finally {
        await fromFile.stop();
      }

      const flagged = startNode(GATEHOUSE, ['serve', '--config', file, '--host', '127.0.0.1', '--port', '0', '--connector-host', '127.0.0.1'], { cwd: dir });
      try {
        await flagged.waitFor(/^gatehouse: connector listener on https:\/\/127\.0\.0\.1:\d+$/m, 30_000);
        flagged.child.kill('SIGHUP');
        await flagged.waitFor(/reloaded .*gatehouse\.yaml \(nothing changed\)/);
      } finally {
        await flagged.stop();
      }
    });
  });
});

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { runNode } from '../../dev/lib/processes.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const OUT = join(ROOT, '.build-test');

interface PackageJson {
  name: string;
  type: string;
  engines: { node: string };
  repository: { type: string; url: string };
  homepage: string;
  bugs: { url: string };
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
  exports: Record<string, { 'gatehouse-source'?: string; types: string; default: string } | string>;
  bin: Record<string, string>;
}

/** What `npm publish` would ship: the build compiles, and every entry point and bin it names works. */
describe('the published package', function () {
  this.timeout(120_000);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson;

  before(async () => {
    rmSync(OUT, { recursive: true, force: true });
    const tsc = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url));
    const build = await runNode(tsc, ['-p', join(ROOT, 'tsconfig.build.json'), '--outDir', OUT]);
    assert.equal(build.code, 0, `${build.stdout}\n${build.stderr}`);
  });
  after(() => rmSync(OUT, { recursive: true, force: true }));

  it('is one ESM package named gatehouse with ".", "./connector", "./testing" and two bins, and says where it lives', () => {
    assert.equal(pkg.name, 'gatehouse');
    assert.equal(pkg.type, 'module');
    assert.equal(pkg.repository.url, 'git+https://github.com/gatehouse-proxy/gatehouse.git');
    assert.equal(pkg.homepage, 'https://github.com/gatehouse-proxy/gatehouse#readme');
    assert.equal(pkg.bugs.url, 'https://github.com/gatehouse-proxy/gatehouse/issues');
    assert.deepEqual(Object.keys(pkg.exports).sort(), ['.', './connector', './package.json', './testing']);
    assert.deepEqual(Object.keys(pkg.bin).sort(), ['gatehouse', 'gatehouse-connector']);
  });

  it('asks for a Node every runtime dependency supports (22.15+, 24, 26+; node:sqlite unflagged from 22.13)', () => {
    assert.equal(pkg.engines.node, '^22.15.0 || ^24.0.0 || >=26.0.0');
    for (const name of Object.keys(pkg.dependencies)) {
      const engines = (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { engines?: { node?: string } }).engines;
      const floor = /(\d+)\.?(\d*)/.exec(engines?.node ?? '0')!;
      // Every lower bound a dependency states is at most 22.15, the lowest Node the package allows.
      assert.ok(Number(floor[1]) < 22 || (Number(floor[1]) === 22 && Number(floor[2] || 0) <= 15), `${name} needs Node ${engines?.node}`);
    }
  });

  it('takes Express 5 as a peer dependency, so that the app mounting the gateway and the gateway share one express', () => {
    assert.equal(pkg.dependencies['express'], undefined);
    assert.equal(pkg.peerDependencies['express'], '^5.0.0');
    assert.equal(pkg.peerDependencies['@types/express'], '^5.0.0');
    assert.equal(pkg.peerDependenciesMeta['@types/express']?.optional, true);
    assert.match(pkg.devDependencies['express']!, /^\^5\./);
  });

  for (const entry of ['.', './connector', './testing'] as const) {
    it(`builds the "${entry}" entry point with its types, and it loads`, async () => {
      const target = pkg.exports[entry];
      assert.ok(target && typeof target === 'object');
      for (const file of [target.types, target.default]) {
        assert.ok(existsSync(join(OUT, file.replace(/^\.\/dist\//, ''))), `${file} is built`);
      }
      const module = (await import(join(OUT, target.default.replace(/^\.\/dist\//, '')))) as Record<string, unknown>;
      if (entry === '.') {
        assert.equal(typeof module['createGateway'], 'function');
        assert.equal(typeof module['createGatewayServer'], 'function');
      } else if (entry === './connector') {
        assert.equal(typeof module['registerConnector'], 'function');
        assert.equal(typeof module['runConnector'], 'function');
      } else {
        for (const name of ['signedInAgent', 'anonymousAgent', 'startThrowawayConnector', 'startTestBackend'])
          assert.equal(typeof module[name], 'function', name);
      }
    });
  }

  for (const [name, file] of Object.entries(pkg.bin)) {
    it(`runs the ${name} bin from the build`, async () => {
      const built = join(OUT, file.replace(/^\.\/dist\//, ''));
      assert.match(readFileSync(built, 'utf8'), /^#!\/usr\/bin\/env node\n/);
      const help = await runNode(built, ['--help']);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, new RegExp(`Usage:[\\s\\S]*${name}`));
      const version = await runNode(built, ['--version']);
      assert.equal(version.stdout, `gatehouse ${(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version}\n`);
      // A command loads its module only when it runs: the build must find it too.
      const missing = join(tmpdir(), `gatehouse-package-missing-${process.pid}`);
      const command = await runNode(built, name === 'gatehouse' ? ['check', '--config', `${missing}.yaml`] : ['status', '--state-dir', missing]);
      assert.equal(command.code, 1, command.stderr);
      assert.match(command.stderr, name === 'gatehouse' ? /cannot read it \(ENOENT\)/ : /ERR_NOT_REGISTERED/);
    });
  }
  /**
   * An outside project: the packed tarball in its node_modules beside the runtime dependencies only (no devDependencies,
   * so no @types the package forgot to declare), its own copy of express 5, and a tsconfig with skipLibCheck false.
   */
  describe('in a consumer project', () => {
    const CONSUMER = join(tmpdir(), `gatehouse-consumer-${process.pid}`);
    const modules = join(CONSUMER, 'node_modules');
    const link = (name: string): void => {
      if (existsSync(join(modules, name))) return;
      mkdirSync(dirname(join(modules, name)), { recursive: true });
      symlinkSync(join(ROOT, 'node_modules', name), join(modules, name), 'dir');
    };
    /** The packages `npm install` would bring for these, as hoisted here (one nested inside its parent comes with it). */
    const closure = (names: readonly string[]): Set<string> => {
      const seen = new Set<string>();
      const visit = (name: string): void => {
        const manifest = join(ROOT, 'node_modules', name, 'package.json');
        if (seen.has(name) || !existsSync(manifest)) return;
        seen.add(name);
        const dependencies = (JSON.parse(readFileSync(manifest, 'utf8')) as { dependencies?: Record<string, string> }).dependencies ?? {};
        for (const dependency of Object.keys(dependencies)) visit(dependency);
      };
      for (const name of names) visit(name);
      return seen;
    };

    before(() => {
      rmSync(CONSUMER, { recursive: true, force: true });
      const stage = join(CONSUMER, 'stage');
      mkdirSync(stage, { recursive: true });
      cpSync(join(ROOT, 'package.json'), join(stage, 'package.json'));
      cpSync(join(ROOT, 'README.md'), join(stage, 'README.md'));
      cpSync(OUT, join(stage, 'dist'), { recursive: true });
      execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', CONSUMER], { cwd: stage, stdio: 'ignore' });
      const tarball = readdirSync(CONSUMER).find((name) => name.endsWith('.tgz'))!;
      execFileSync('tar', ['xzf', tarball], { cwd: CONSUMER });
      mkdirSync(modules, { recursive: true });
      cpSync(join(CONSUMER, 'package'), join(modules, 'gatehouse'), { recursive: true });
      // The consumer's own express, a copy apart from ours: the gateway must use it, not bring one of its own.
      cpSync(join(ROOT, 'node_modules', 'express'), join(modules, 'express'), { recursive: true, dereference: true });
      const runtime = closure([...Object.keys(pkg.dependencies), 'express']);
      for (const name of runtime) if (name !== 'express') link(name);
      // What a TypeScript project that tests with supertest has of its own.
      for (const name of ['typescript', '@types/express', 'supertest', '@types/supertest']) link(name);
      writeFileSync(join(CONSUMER, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    });
    after(() => rmSync(CONSUMER, { recursive: true, force: true }));

    it('ships dist and the README only', () => {
      const shipped = readdirSync(join(modules, 'gatehouse')).sort();
      assert.deepEqual(shipped, ['README.md', 'dist', 'package.json']);
    });

    it('type-checks every entry point with skipLibCheck false and the runtime dependencies only', async () => {
      writeFileSync(
        join(CONSUMER, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: { module: 'nodenext', target: 'es2023', strict: true, skipLibCheck: false, noEmit: true, types: ['node'] },
          files: ['index.ts'],
        }),
      );
      writeFileSync(
        join(CONSUMER, 'index.ts'),
        `import express from 'express';
import { createGateway, createGatewayServer, type GatewayConfigInput } from 'gatehouse';
import { registerConnector, runConnector } from 'gatehouse/connector';
import { anonymousAgent, signedInAgent, startTestBackend, startThrowawayConnector } from 'gatehouse/testing';
const config: GatewayConfigInput = {
  identityProvider: { issuer: 'https://login.example.com', clientId: 'gatehouse' },
  session: { secrets: [{ id: 1, secret: 'a-test-secret-that-is-long-enough-0123456789' }] },
  apps: [{ id: 'wiki', externalUrl: 'https://wiki.example.com', internalUrl: 'http://10.0.0.5:8080' }],
};
const app: express.Express = express();
app.use(createGateway(config, { unknownHost: 'next' }).handler);
export const used = [createGatewayServer, registerConnector, runConnector, anonymousAgent, signedInAgent, startTestBackend, startThrowawayConnector];
`,
      );
      const tsc = await runNode(join(modules, 'typescript', 'bin', 'tsc'), ['-p', CONSUMER], { cwd: CONSUMER });
      assert.equal(tsc.code, 0, `${tsc.stdout}\n${tsc.stderr}`);
    });

    it("mounts the gateway on the consumer's own Express 5 app, with that one express", async () => {
      writeFileSync(
        join(CONSUMER, 'app.js'),
        `import { once } from 'node:events';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import express from 'express';
import { createGateway } from 'gatehouse';
const gateway = createGateway(
  {
    identityProvider: { issuer: 'https://127.0.0.1:9/', clientId: 'gatehouse', clientSecret: 's3cret' },
    session: { secrets: [{ id: 1, secret: 'a-test-secret-that-is-long-enough-0123456789' }] },
    store: { url: 'memory:' },
    apps: [{ id: 'wiki', externalUrl: 'https://wiki.example.com', internalUrl: 'http://127.0.0.1:9' }],
  },
  { unknownHost: 'next' },
);
const app = express();
app.use(gateway.handler);
app.get('/own', (_req, res) => res.send('own'));
const server = app.listen(0, '127.0.0.1');
await once(server, 'listening');
const get = (host, path) =>
  new Promise((resolve, reject) =>
    request({ host: '127.0.0.1', port: server.address().port, path, headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk) => (body += chunk)).on('end', () => resolve({ status: res.statusCode, body }));
    }).on('error', reject).end(),
  );
const robots = await get('wiki.example.com', '/robots.txt');
const own = await get('127.0.0.1', '/own');
server.close();
await gateway.close();
const expressOf = (from) => createRequire(from).resolve('express');
console.log(JSON.stringify({ consumer: expressOf(import.meta.url), gateway: expressOf(import.meta.resolve('gatehouse')), robots, own }));
`,
      );
      const result = await runNode(join(CONSUMER, 'app.js'), [], { cwd: CONSUMER });
      assert.equal(result.code, 0, result.stderr);
      const seen = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as Record<string, { status: number; body: string } | string>;
      assert.equal(seen['gateway'], join(modules, 'express', 'index.js'));
      assert.equal(seen['consumer'], seen['gateway']);
      assert.deepEqual(seen['own'], { status: 200, body: 'own' });
      const robots = seen['robots'] as { status: number; body: string };
      assert.equal(robots.status, 200);
      assert.match(robots.body, /Disallow: \//);
    });
  });
});

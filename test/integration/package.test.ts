import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { runNode } from '../../dev/lib/processes.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const OUT = join(ROOT, '.build-test');

interface PackageJson {
  name: string;
  type: string;
  engines: { node: string };
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

  it('is one ESM package named gatehouse for Node >= 22.13 with ".", "./connector", "./testing" and two bins', () => {
    assert.equal(pkg.name, 'gatehouse');
    assert.equal(pkg.type, 'module');
    assert.equal(pkg.engines.node, '>=22.13');
    assert.deepEqual(Object.keys(pkg.exports).sort(), ['.', './connector', './package.json', './testing']);
    assert.deepEqual(Object.keys(pkg.bin).sort(), ['gatehouse', 'gatehouse-connector']);
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
    });
  }
});

/**
 * Which of the tooling folders may use which. `npm start` must not run test
 * code, the benchmark must not measure test fixtures, and a test must not
 * depend on the demo or the benchmark: what two of them share lives in
 * dev/lib/ (development tooling: the identity provider, the dev CA, the
 * scripted browser, process runners, the bulk body), which imports none of
 * them.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface Zone {
  /** Files under this folder (repository-relative)… */
  readonly folder: string;
  /** …may not refer to files under these… */
  readonly forbidden: readonly string[];
  /** …except under these. */
  readonly allowed?: readonly string[];
  readonly why: string;
}

const ZONES: readonly Zone[] = [
  { folder: 'test/support', forbidden: ['dev', 'bench'], allowed: ['dev/lib'], why: 'test fixtures build on src/ and dev/lib/ only' },
  { folder: 'dev/lib', forbidden: ['test', 'bench', 'dev'], allowed: ['dev/lib'], why: 'shared tooling stands on its own' },
  { folder: 'dev', forbidden: ['test', 'bench'], why: '`npm start` runs no test or benchmark code' },
  { folder: 'bench', forbidden: ['test', 'dev'], allowed: ['dev/lib'], why: 'the benchmark builds on src/ and dev/lib/, not on tests or the demo' },
];

const within = (path: string, folder: string): boolean => path === folder || path.startsWith(`${folder}/`);

/** The zone a file belongs to: the most specific folder that holds it. */
function zoneOf(file: string): Zone | undefined {
  return ZONES.filter((zone) => within(file, zone.folder)).sort((a, b) => b.folder.length - a.folder.length)[0];
}

// Static and dynamic imports, re-exports, and files located with new URL(…, import.meta.url) (scripts run as processes).
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*|\bnew URL\(\s*)(['"])(\.{1,2}\/[^'"]*)\1/g;

/** Repository-relative paths a file refers to with relative specifiers. */
function referencesOf(file: string, source: string): string[] {
  return [...source.matchAll(SPECIFIER)].map((match) => normalize(join(dirname(file), match[2]!)).replace(/\/$/, ''));
}

/** `file → target (why)` for each reference the zones forbid. */
function forbiddenReferences(file: string, source: string): string[] {
  const zone = zoneOf(file);
  if (!zone) return [];
  return referencesOf(file, source)
    .filter((target) => zone.forbidden.some((folder) => within(target, folder)) && !(zone.allowed ?? []).some((folder) => within(target, folder)))
    .map((target) => `${file} → ${target} (${zone.why})`);
}

function typeScriptFiles(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts'))
    .map((name) => join(folder, name));
}

describe('structure: imports between test/support, dev and bench', () => {
  it('finds the forbidden directions it is meant to find', () => {
    assert.deepEqual(forbiddenReferences('dev/demo/x.ts', "import { BrowserClient } from '../../test/support/browser-client.ts';"), [
      'dev/demo/x.ts → test/support/browser-client.ts (`npm start` runs no test or benchmark code)',
    ]);
    assert.equal(forbiddenReferences('bench/x.ts', "import type { Stack } from '../test/support/stack.ts';").length, 1);
    assert.equal(forbiddenReferences('bench/x.ts', "const run = new URL('../dev/demo.ts', import.meta.url);").length, 1);
    assert.equal(forbiddenReferences('test/support/x.ts', "export { startDemo } from '../../dev/demo/demo-stack.ts';").length, 1);
    assert.equal(forbiddenReferences('test/support/x.ts', "const child = await import('../../bench/lib/child.ts');").length, 1);
    assert.equal(forbiddenReferences('dev/lib/x.ts', "import { signIn } from '../demo/demo-stack.ts';").length, 1);
    assert.deepEqual(forbiddenReferences('test/support/x.ts', "import { createDevCa } from '../../dev/lib/dev-ca.ts';"), []);
    assert.deepEqual(forbiddenReferences('bench/lib/x.ts', "import { patternStream } from '../../dev/lib/pattern-body.ts';"), []);
    assert.deepEqual(forbiddenReferences('dev/demo/x.ts', "import { createGateway } from '../../src/gateway/create-gateway.ts';"), []);
  });

  it('test/support, dev and bench import nothing the zones forbid', () => {
    const files = ['test/support', 'dev', 'bench'].flatMap(typeScriptFiles);
    assert.ok(files.length > 20, `found only ${files.length} files`);
    const found = files.flatMap((file) => forbiddenReferences(file, readFileSync(join(ROOT, file), 'utf8')));
    assert.deepEqual(found, []);
  });
});

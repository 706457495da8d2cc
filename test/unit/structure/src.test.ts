import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/**
 * The shape of src/ that the README promises a newcomer: files of one job
 * (small), and modules that can be read in order because nothing imports its
 * own importer. These checks read the tree; they run no product code.
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SRC = join(ROOT, 'src');

/** Longest a file in src/ may be before it is split by job. */
const MAX_LINES = 300;

/** Files allowed past MAX_LINES, each with the reason it is still one job. */
const LONG_FILE_REASONS: Readonly<Record<string, string>> = {
  'src/limits.ts': 'a table of named defaults, one constant and its reason per entry',
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Relative imports of one file, type-only and dynamic ones included, as absolute paths. */
function relativeImports(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return info.importedFiles
    .map((ref) => ref.fileName)
    .filter((name) => name.startsWith('.'))
    .map((name) => join(dirname(file), name));
}

/** Strongly connected components with more than one file (Tarjan). */
function importCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const order = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let next = 0;
  const visit = (file: string): void => {
    order.set(file, next);
    low.set(file, next);
    next++;
    stack.push(file);
    onStack.add(file);
    for (const dep of graph.get(file) ?? []) {
      if (!graph.has(dep)) continue;
      if (!order.has(dep)) {
        visit(dep);
        low.set(file, Math.min(low.get(file)!, low.get(dep)!));
      } else if (onStack.has(dep)) {
        low.set(file, Math.min(low.get(file)!, order.get(dep)!));
      }
    }
    if (low.get(file) !== order.get(file)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== file);
    if (component.length > 1) cycles.push(component.map((path) => relative(ROOT, path)).sort());
  };
  for (const file of graph.keys()) if (!order.has(file)) visit(file);
  return cycles;
}

describe('the shape of src/', function () {
  const files = sourceFiles(SRC);
  const graph = new Map(files.map((file) => [file, relativeImports(file)]));

  it('finds the source files and their imports (the checks below would pass on nothing otherwise)', function () {
    assert.ok(files.length > 100, `only ${files.length} files found under ${SRC}`);
    assert.ok([...graph.values()].some((deps) => deps.length > 0));
  });

  it('has no import cycle, type-only imports included', function () {
    assert.deepEqual(importCycles(graph), []);
  });

  it(`has no file over ${MAX_LINES} lines unless it says why it is still one job`, function () {
    const long = files
      .map((file) => ({ file: relative(ROOT, file), lines: readFileSync(file, 'utf8').split('\n').length }))
      .filter(({ file, lines }) => lines > MAX_LINES && LONG_FILE_REASONS[file] === undefined)
      .map(({ file, lines }) => `${file}: ${lines} lines`);
    assert.deepEqual(long, []);
  });

  it('imports nothing from test/, dev/ or bench/', function () {
    const outside = [...graph].flatMap(([file, deps]) =>
      deps.filter((dep) => !dep.startsWith(SRC)).map((dep) => `${relative(ROOT, file)} -> ${relative(ROOT, dep)}`),
    );
    assert.deepEqual(outside, []);
  });
});

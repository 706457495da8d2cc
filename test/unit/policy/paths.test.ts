import assert from 'node:assert/strict';
import { matchPaths } from '../../../src/policy/criteria/paths.ts';
import { canonicalPattern, requestPathForms } from '../../../src/policy/request-path.ts';

const patterns = (...paths: string[]) => paths.map((label) => ({ label, pattern: canonicalPattern(label) }));

describe('policy: path condition', () => {
  const admin = patterns('/admin/');
  const exact = patterns('/export');

  const cases: readonly [string, ReturnType<typeof patterns>, string, boolean][] = [
    ['prefix: inside', admin, '/admin/users', true],
    ['prefix: the directory itself', admin, '/admin/', true],
    ['prefix: the bare directory', admin, '/admin', true],
    ['prefix: a sibling with the same start', admin, '/administrator', false],
    ['prefix: elsewhere', admin, '/public/index.html', false],
    ['prefix: root', admin, '/', false],
    ['prefix: query is ignored', admin, '/admin/x?next=/public', true],
    ['prefix: query cannot smuggle the path', admin, '/public?/admin/', false],
    ['prefix: fragment is ignored', admin, '/public#/admin/', false],
    ['exact: itself', exact, '/export', true],
    ['exact: with a trailing slash (Express non-strict routing)', exact, '/export/', true],
    ['exact: not a prefix', exact, '/export/all', false],
    ['exact: not a longer name', exact, '/exports', false],
    ['root prefix covers everything', patterns('/'), '/anything/at/all', true],
    // What a backend might make of a path: every reading counts.
    ['case: upper case (Express, IIS ignore case)', admin, '/ADMIN/users', true],
    ['case: mixed', admin, '/Admin', true],
    ['slashes: doubled', admin, '//admin//users', true],
    ['slashes: doubled inside', patterns('/app/admin/'), '/app//admin/x', true],
    ['dots: resolved', admin, '/public/../admin/users', true],
    ['dots: single dot', admin, '/./admin/', true],
    ['dots: above root', admin, '/../../admin/', true],
    ['dots: leaving the prefix', admin, '/admin/../public/', true],
    ['encoding: letters', admin, '/%61dmin/users', true],
    ['encoding: slash', admin, '/public/..%2Fadmin/users', true],
    ['encoding: dots', admin, '/public/%2e%2e/admin/', true],
    ['encoding: double', admin, '/public/%252e%252e/admin/', true],
    ['backslash', admin, '/public\\..\\admin\\users', true],
    ['encoded backslash', admin, '/public%5c..%5cadmin/', true],
    ['matrix params', admin, '/admin;jsessionid=x/users', true],
    ['matrix params hide the prefix', admin, '/public/..;/admin/', true],
    // Unreadable paths match every path condition.
    ['unreadable: malformed encoding', admin, '/public/%zz', true],
    ['unreadable: lone percent', admin, '/public/100%', true],
    ['encoding: triple', admin, '/public/%25252e%25252e/admin/', true],
    ['unreadable: quadruple encoding', admin, '/public/%2525252e', true],
    ['unreadable: encoded newline', admin, '/public/%0d%0a', true],
    ['unreadable: encoded NUL', admin, '/public/%00', true],
    ['unreadable: space', admin, '/public/a b', true],
    ['unreadable: not origin-form', admin, 'http://evil.example/public', true],
    ['unreadable: asterisk', admin, '*', true],
    ['unreadable: empty', admin, '', true],
    ['plain encoded text elsewhere', admin, '/public/a%20b', false],
    ['second pattern', patterns('/admin/', '/billing/'), '/billing/q', true],
  ];
  for (const [name, list, path, ok] of cases) {
    it(`${name}: ${JSON.stringify(path)} ${ok ? 'matches' : 'does not match'}`, () => {
      assert.equal(matchPaths(list, requestPathForms(path)).ok, ok);
    });
  }

  it('labels say which pattern matched, never the request path', () => {
    assert.deepEqual(matchPaths(patterns('/admin/', '/billing/'), requestPathForms('/billing/x')), { ok: true, reason: 'path:/billing/' });
    assert.deepEqual(matchPaths(admin, requestPathForms('/public/<script>')), { ok: false, reason: 'path:not_matched' });
    assert.deepEqual(matchPaths(admin, requestPathForms('/public/%zz')), { ok: true, reason: 'path:unreadable' });
    assert.deepEqual(matchPaths(patterns('/Admin//Tools/'), requestPathForms('/admin/tools/x')), { ok: true, reason: 'path:/Admin//Tools/' });
  });

  it('gives each distinct reading once', () => {
    assert.deepEqual(requestPathForms('/a/b'), ['/a/b']);
    assert.deepEqual(requestPathForms('/A/./B'), ['/a/./b', '/a/b']);
    assert.deepEqual(requestPathForms('/x/..%2Fy'), ['/x/..%2fy', '/y']);
  });
});

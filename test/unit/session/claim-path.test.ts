import assert from 'node:assert/strict';
import { claimAt, groupsAt } from '../../../src/session/claim-path.ts';

describe('claim paths (groupsClaim, connectors.admin.claim)', () => {
  it('reads a claim by its whole name first, so namespaced claims with dots are names, not paths', () => {
    const claims = { 'https://example.com/groups': ['a'], https: { '//example': { 'com/groups': ['path'] } } };
    assert.deepEqual(claimAt(claims, 'https://example.com/groups'), ['a']);
    assert.deepEqual(claimAt({ 'a.b': 'whole', a: { b: 'path' } }, 'a.b'), 'whole');
  });

  it('follows a dotted path through objects when no claim has the whole name', () => {
    assert.deepEqual(claimAt({ realm_access: { roles: ['admin'] } }, 'realm_access.roles'), ['admin']);
    assert.equal(claimAt({ realm_access: ['roles'] }, 'realm_access.roles'), undefined, 'not into arrays');
    assert.equal(claimAt({ realm_access: { roles: ['admin'] } }, 'realm_access.missing'), undefined);
  });

  it('follows own keys only', () => {
    assert.equal(claimAt({}, 'constructor'), undefined);
    assert.equal(claimAt({ a: {} }, 'a.constructor.name'), undefined);
    assert.equal(claimAt({ a: {} }, '__proto__'), undefined);
  });

  it('reads groups as a list of strings; one string is one group (never split at spaces); anything else is none', () => {
    assert.deepEqual(groupsAt({ groups: ['a', 7, 'b', ''] }, 'groups'), ['a', 'b']);
    assert.deepEqual(groupsAt({ groups: 'Domain Users' }, 'groups'), ['Domain Users']);
    assert.deepEqual(groupsAt({ groups: { a: 1 } }, 'groups'), []);
    assert.deepEqual(groupsAt({ realm_access: { roles: ['x'] } }, 'realm_access.roles'), ['x']);
    assert.deepEqual(groupsAt({ groups: ['x'.repeat(1025)] }, 'groups'), []);
  });
});

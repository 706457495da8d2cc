import assert from 'node:assert/strict';
import { hasGroupOverage } from '../../../src/session/group-overage.ts';

describe('group overage detection', function () {
  it("sees Entra's distributed-claims form and hasgroups, not an empty or absent groups claim", function () {
    assert.equal(
      hasGroupOverage({
        _claim_names: { groups: 'src1' },
        _claim_sources: { src1: { endpoint: 'https://graph.microsoft.com/v1.0/users/x/getMemberObjects' } },
      }),
      true,
    );
    assert.equal(hasGroupOverage({ hasgroups: true }), true);
    assert.equal(hasGroupOverage({ groups: [] }), false);
    assert.equal(hasGroupOverage({}), false);
    assert.equal(hasGroupOverage({ hasgroups: 'true', _claim_names: { roles: 'src1' } }), false);
    assert.equal(hasGroupOverage({ _claim_names: ['groups'] }), false);
  });
});

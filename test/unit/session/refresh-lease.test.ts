import assert from 'node:assert/strict';
import { SESSION_REFRESH_LOCK_SECONDS } from '../../../src/limits.ts';
import { refreshLeaseSeconds } from '../../../src/session/refresh-state.ts';

describe('refreshLeaseSeconds: the refresh lease outlasts a refresh', () => {
  it('is SESSION_REFRESH_LOCK_SECONDS with the default identity provider timeout', () => {
    assert.equal(refreshLeaseSeconds({ timeoutSeconds: 10, groupsEndpoint: undefined }), SESSION_REFRESH_LOCK_SECONDS);
  });

  it('grows with a longer token request timeout: no instance sends the token again while the first request may still be answered', () => {
    const lease = refreshLeaseSeconds({ timeoutSeconds: 120, groupsEndpoint: undefined });
    assert.ok(lease > 2 * 120, `${lease}`);
  });

  it('counts every page of the groups endpoint, asked between the token request and the write', () => {
    const endpoint = { url: 'https://graph.example.com/v1.0/me/transitiveMemberOf', maxPages: 20, timeoutSeconds: 15 };
    const lease = refreshLeaseSeconds({ timeoutSeconds: 10, groupsEndpoint: endpoint });
    assert.ok(lease > 2 * 10 + 20 * 15, `${lease}`);
  });
});

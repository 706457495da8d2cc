import assert from 'node:assert/strict';
import { isSecretQueryName, redactQuery } from '../../../src/logging/query-redaction.ts';

describe('logging: query redaction', () => {
  it('redacts the values of parameters named like secrets, in any case or encoding, and keeps the rest in place', () => {
    assert.equal(
      redactQuery('page=2&code=abc&STATE=def&id_token=x&access_token=y&refresh_token=z&password=p&client_secret=s&api_key=k&sig=q&flag&c%6Fde=e'),
      'page=2&code=[redacted]&STATE=[redacted]&id_token=[redacted]&access_token=[redacted]&refresh_token=[redacted]&password=[redacted]&client_secret=[redacted]&api_key=[redacted]&sig=[redacted]&flag&c%6Fde=[redacted]',
    );
  });

  it('treats a name it cannot decode as secret, and plain names as plain', () => {
    assert.equal(isSecretQueryName('%E0%A4%A'), true);
    for (const name of ['page', 'q', 'sort', 'lang']) assert.equal(isSecretQueryName(name), false, name);
  });
});

import assert from 'node:assert/strict';
import { appAuthority, appIdOfConnect, isAppId, isRequestId, REFUSAL_STATUS, type TunnelRefusal } from '../../../src/protocol/tunnel-wire.ts';
import { refusalError } from '../../../src/tunnel/refusal-error.ts';

describe('tunnel protocol', function () {
  it('names an app in a CONNECT authority that can never resolve to a host', function () {
    assert.equal(appAuthority('wiki'), 'wiki.app.invalid:443');
    assert.equal(appIdOfConnect('wiki.app.invalid:443', 'wiki'), 'wiki');
  });

  it('accepts a CONNECT only when authority and app header name the same well-formed app', function () {
    for (const [authority, app] of [
      ['10.0.0.5:22', 'wiki'],
      ['wiki.app.invalid:443', 'hr'],
      ['wiki.app.invalid:443', undefined],
      ['wiki.app.invalid:443', ['wiki', 'wiki']],
      ['10.0.0.5:22.app.invalid:443', '10.0.0.5:22'],
      ['..app.invalid:443', '.'],
      ['WIKI.app.invalid:443', 'WIKI'],
      [undefined, 'wiki'],
    ] as const) {
      assert.equal(appIdOfConnect(authority, app), undefined, `${String(authority)} / ${String(app)}`);
    }
  });

  it('checks app ids and request ids against safe alphabets', function () {
    assert.equal(isAppId('wiki-2'), true);
    assert.equal(isAppId('-wiki'), false);
    assert.equal(isAppId('a'.repeat(64)), false);
    assert.equal(isRequestId('3f2c-9a:01.x_y'), true);
    assert.equal(isRequestId('line\nbreak'), false);
    assert.equal(isRequestId('x'.repeat(129)), false);
    assert.equal(isRequestId(''), false);
  });

  it('maps each refusal to a code; every refusal happened before any byte reached the app', function () {
    const expected: Record<TunnelRefusal, string> = {
      bad_method: 'ERR_TUNNEL_PROTOCOL',
      bad_target: 'ERR_TUNNEL_UNKNOWN_APP',
      unknown_app: 'ERR_TUNNEL_UNKNOWN_APP',
      origin_refused: 'ERR_TUNNEL_ORIGIN_REFUSED',
      origin_timeout: 'ERR_TUNNEL_ORIGIN_TIMEOUT',
      origin_tls: 'ERR_TUNNEL_ORIGIN_TLS',
      target_refused: 'ERR_TUNNEL_UNKNOWN_APP',
      draining: 'ERR_TUNNEL_CLOSED',
    };
    for (const [refusal, code] of Object.entries(expected)) {
      const error = refusalError(REFUSAL_STATUS[refusal as TunnelRefusal], refusal, 'c-1');
      assert.equal(error.code, code, refusal);
      assert.equal(error.beforeUpstream, true);
      assert.equal(error.reason, refusal);
      assert.equal(error.connectorId, 'c-1');
    }
  });

  it('treats an answer it does not know as a protocol error, never echoing it', function () {
    const unknown = refusalError(418, '<script>', 'c-1');
    assert.equal(unknown.code, 'ERR_TUNNEL_PROTOCOL');
    assert.equal(unknown.reason, 'status_418');
    assert.doesNotMatch(unknown.message, /script/);
    // A known reason with the wrong status is not trusted either.
    assert.equal(refusalError(502, 'unknown_app', 'c-1').code, 'ERR_TUNNEL_PROTOCOL');
    assert.equal(refusalError(403, 'constructor', 'c-1').code, 'ERR_TUNNEL_PROTOCOL');
  });
});

import assert from 'node:assert/strict';
import { CONNECTOR_ERRORS } from '../../../src/errors/connector-codes.ts';
import { ConnectorError } from '../../../src/errors/connector-error.ts';
import { CONNECTOR_PLANE_ERRORS } from '../../../src/errors/connector-plane-codes.ts';
import { GatehouseError } from '../../../src/errors/gatehouse-error.ts';
import { GATEWAY_ERRORS } from '../../../src/errors/gateway-codes.ts';
import { ERROR_TABLE, type GatehouseErrorCode } from '../../../src/errors/index.ts';
import type { GatehouseStep } from '../../../src/errors/row.ts';
import { TUNNEL_ERRORS } from '../../../src/errors/tunnel-codes.ts';
import { TunnelError } from '../../../src/errors/tunnel-error.ts';

const STEPS: readonly GatehouseStep[] = ['request', 'app-resolution', 'session', 'sign-in', 'conditional-access', 'forwarding', 'connector', 'internal'];
const PLANES = { gateway: GATEWAY_ERRORS, 'connector plane': CONNECTOR_PLANE_ERRORS, connector: CONNECTOR_ERRORS, tunnel: TUNNEL_ERRORS };
const codes = Object.keys(ERROR_TABLE) as GatehouseErrorCode[];

describe('the error table', function () {
  it('holds every plane, each code in exactly one plane', function () {
    const perPlane = Object.values(PLANES).flatMap((plane) => Object.keys(plane));
    assert.equal(new Set(perPlane).size, perPlane.length, 'a code defined on two planes would have one row overwrite the other');
    assert.deepEqual([...perPlane].sort(), [...codes].sort());
  });

  it('gives every code every field', function () {
    for (const code of codes) {
      const row = ERROR_TABLE[code];
      assert.match(code, /^ERR_[A-Z0-9_]+$/);
      assert.ok(STEPS.includes(row.step), `${code}: step ${row.step}`);
      assert.ok(row.title.length > 3 && row.title.length < 60, `${code}: title`);
      assert.ok(/^[A-Z"]/.test(row.message) && row.message.endsWith('.'), `${code}: message is a sentence`);
      assert.equal(typeof row.expose, 'boolean', `${code}: expose`);
      assert.equal(typeof row.retryable, 'boolean', `${code}: retryable`);
    }
  });

  it('has sane statuses: errors only, retryable ones are server-side or rate limits', function () {
    for (const code of codes) {
      const { status, retryable } = ERROR_TABLE[code];
      assert.ok(Number.isInteger(status) && status >= 400 && status <= 599, `${code}: ${status}`);
      if (retryable) assert.ok(status >= 500 || status === 429, `${code}: retryable with ${status}`);
    }
    for (const code of ['ERR_SESSION_REQUIRED', 'ERR_SESSION_EXPIRED', 'ERR_CERT_REFUSED', 'ERR_CONNECTOR_REVOKED'] as const) {
      assert.equal(ERROR_TABLE[code].status, 401, code);
    }
    assert.equal(ERROR_TABLE.ERR_POLICY_DENIED.status, 403);
    assert.equal(ERROR_TABLE.ERR_NO_CONNECTOR.status, 503);
    assert.equal(ERROR_TABLE.ERR_INTERNAL.status, 500);
  });

  it('fills text only from configuration: {app} is the one placeholder', function () {
    for (const code of codes) {
      const placeholders = ERROR_TABLE[code].message.match(/\{[^}]*\}/g) ?? [];
      assert.ok(
        placeholders.every((p) => p === '{app}'),
        `${code}: ${placeholders.join(', ')}`,
      );
    }
  });

  it("shows a browser's user the fixed text only; operators get the detail", function () {
    for (const code of Object.keys(GATEWAY_ERRORS) as GatehouseErrorCode[]) assert.equal(ERROR_TABLE[code].expose, false, code);
    for (const code of Object.keys(TUNNEL_ERRORS) as GatehouseErrorCode[]) assert.equal(ERROR_TABLE[code].expose, false, code);
    for (const code of Object.keys(CONNECTOR_PLANE_ERRORS) as GatehouseErrorCode[]) assert.equal(ERROR_TABLE[code].expose, true, code);
    for (const code of Object.keys(CONNECTOR_ERRORS) as GatehouseErrorCode[]) assert.equal(ERROR_TABLE[code].expose, true, code);
  });

  it('answers each tunnel failure as the gateway code it is shown as, with its status', function () {
    for (const [code, row] of Object.entries(TUNNEL_ERRORS)) {
      assert.ok(Object.hasOwn(GATEWAY_ERRORS, row.shownAs), `${code} is shown as ${row.shownAs}`);
      assert.equal(row.status, ERROR_TABLE[row.shownAs].status, code);
    }
    const error = new TunnelError('ERR_TUNNEL_ORIGIN_TIMEOUT', 'x', { beforeUpstream: true });
    assert.equal(error.shownAs, 'ERR_BACKEND_TIMEOUT');
    assert.equal(error.status, 504);
    assert.equal(new TunnelError('ERR_TUNNEL_STREAM_LIMIT', 'x', { beforeUpstream: true }).status, 503);
    assert.equal(new TunnelError('ERR_TUNNEL_ORIGIN_REFUSED', 'x', { beforeUpstream: true }).status, 502);
  });

  it('has one code per meaning: the merged duplicates are gone', function () {
    for (const removed of ['ERR_CERT_REVOKED', 'ERR_CONNECTOR_CERT']) assert.equal(Object.hasOwn(ERROR_TABLE, removed), false, removed);
    // The service's refusal and the connector's report of it are one code each.
    assert.equal(ERROR_TABLE.ERR_CONNECTOR_REVOKED.step, 'connector');
    assert.equal(ERROR_TABLE.ERR_CERT_REFUSED.step, 'connector');
    const titles = codes.map((code) => ERROR_TABLE[code].message);
    assert.equal(new Set(titles).size, titles.length, 'two codes with the same sentence mean the same thing');
  });

  it('gives the error classes their row', function () {
    const error = new GatehouseError('ERR_CONNECTOR_REVOKED', 'revoked');
    assert.equal(error.status, 401);
    assert.equal(error.step, 'connector');
    assert.equal(error.message, ERROR_TABLE.ERR_CONNECTOR_REVOKED.message);
    assert.equal(new GatehouseError('ERR_BAD_REQUEST').reason, 'ERR_BAD_REQUEST');

    for (const code of Object.keys(CONNECTOR_ERRORS) as (keyof typeof CONNECTOR_ERRORS)[]) {
      assert.equal(new ConnectorError(code, 'x').retryable, CONNECTOR_ERRORS[code].retryable, code);
    }
    assert.equal(new ConnectorError('ERR_SERVICE_UNREACHABLE', 'x').retryable, true);
    assert.equal(new ConnectorError('ERR_CONFIG_INVALID', 'x', { retryable: true }).retryable, true, 'an instance may override its row');
  });
});

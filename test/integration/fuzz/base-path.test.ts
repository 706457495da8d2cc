import assert from 'node:assert/strict';
import fc from 'fast-check';
import { startStack, type Stack } from '../../support/stack.ts';
import { rawRequest, rawUpgrade, type RawTarget } from '../../support/raw-forward.ts';
import { fuzzTimeout, runs } from '../../support/fuzz-runs.ts';

/**
 * An app whose internal URL has a path (`http://backend/base/`) must only ever reach that path: the forwarder sends
 * the base then the target as received, so a target that still holds a dot segment, in any spelling a backend might
 * decode, would be resolved above the base by the backend or a proxy in front of it. Through the real gateway, as a
 * request and as a WebSocket handshake: no such target reaches the backend; ordinary targets still do, under the base.
 */

const SEGMENT = fc.constantFrom('a', 'secret', '.', '..', '%2e', '%2E%2e', '.%2e', '%252e%252e', '..;x', '%2e%2e;y', 'x%2f..', '');
const TRAVERSAL = fc
  .array(fc.tuple(fc.constantFrom('/', '/', '//', '%2f'), SEGMENT), { minLength: 1, maxLength: 6 })
  .map((parts) => parts.map(([separator, segment], index) => (index === 0 ? '/' : separator) + segment).join(''))
  .filter((path) => /(^|\/|%2f)(\.|%2e|%252e){1,2}(;[^/]*)?(\/|%2f|$)/i.test(path));

describe('fuzz: an app with a base path is never left through dot segments (real gateway)', function () {
  this.timeout(fuzzTimeout(90_000));
  let stack: Stack;
  let target: RawTarget;

  before(async function () {
    this.timeout(90_000);
    stack = await startStack({
      configure: (config) => ({
        ...config,
        apps: (config.apps ?? []).map((app) => (app.id === 'open' ? { ...app, internalUrl: `${app.internalUrl.replace(/\/$/, '')}/base/` } : app)),
      }),
    });
    target = { port: stack.port, host: new URL(stack.urls.open).host, ca: stack.ca.certPem };
  });

  after(async function () {
    await stack?.close();
  });

  it('an ordinary path reaches the backend under the base', async () => {
    const response = await rawRequest(target, 'GET', '/hello/world?q=1', [['Connection', 'close']]);
    assert.equal(response.status, 200, response.body);
    assert.equal(stack.backend.requests.at(-1)?.path, '/base/hello/world?q=1');
  });

  it('no spelling of a dot segment reaches the backend, as a request or a WebSocket handshake', async () => {
    await fc.assert(
      fc.asyncProperty(TRAVERSAL, fc.boolean(), async (path, upgrade) => {
        const before = stack.backend.requests.length;
        const status = upgrade
          ? (await rawUpgrade(target, path, [])).response.status
          : (await rawRequest(target, 'GET', path, [['Connection', 'close']])).status;
        assert.ok(status >= 400 && status < 500, `${path} answered ${status}`);
        const reached = stack.backend.requests.slice(before).map((request) => request.path);
        assert.deepEqual(reached, [], `${path} reached the backend as ${reached.join(', ')}`);
      }),
      runs(25),
    );
  });
});

import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import fc from 'fast-check';
import type { AppConfig } from '../../../src/config/parse.ts';
import { GatehouseError } from '../../../src/errors/index.ts';
import { createPolicyEngine } from '../../../src/policy/engine.ts';
import { requestPathForms } from '../../../src/policy/request-path.ts';
import type { AccessFacts } from '../../../src/policy/types.ts';
import { appResolutionStep, createAppTable, normalizeHost } from '../../../src/request/app-resolution.ts';
import type { RequestContext } from '../../../src/request/context.ts';
import { refuse } from '../../../src/request/request-context.ts';
import { isReservedPath, requestTargetProblem } from '../../../src/request/request-target.ts';
import { leavesBasePath } from '../../../src/forwarding/base-path.ts';
import { fuzzTimeout, runs } from '../../support/fuzz-runs.ts';

/**
 * Request targets and Host headers are the first thing a client controls. Whatever it sends, the checks answer (never
 * throw), and no spelling of a path — dot segments, `%2e`, double encoding, `;params`, backslashes, doubled slashes,
 * case — reaches what it resolves to without the checks that guard that place: Gatehouse's own `/.gatehouse/`, a
 * policy's path prefix, or the part of a backend above an app's internal base path.
 */

/** Segments a traversal is made of, in the spellings backends are known to read. */
const SEGMENT = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('a', 'b', 'admin', 'ADMIN', 'public', '.gatehouse', '.GateHouse', '%2egatehouse', '%252egatehouse', 'wiki', 'x;y') },
  { weight: 4, arbitrary: fc.constantFrom('.', '..', '%2e', '%2E%2e', '.%2e', '%252e%252e', '..;x', '', '%2e%2e%2fadmin', '..%5cadmin', '..\\admin') },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9._~%;]{0,6}$/) },
);
const SEPARATOR = fc.constantFrom('/', '/', '/', '//', '%2f', '%2F', '%252f', '\\', '%5c');

/** A path of traversal vocabulary, sometimes with a query. */
const TRAVERSAL = fc
  .tuple(
    fc.array(fc.tuple(SEPARATOR, SEGMENT), { minLength: 1, maxLength: 8 }),
    fc.option(fc.constantFrom('?a=1', '?next=/../x', '?%2e%2e'), { nil: undefined }),
  )
  .map(([parts, query]) => {
    const path = parts.map(([separator, segment], index) => (index === 0 ? '/' : separator) + segment).join('');
    return path + (query ?? '');
  });

/** Anything at all: printable junk, controls, astral characters, lone surrogates. */
const JUNK = fc.oneof(fc.string({ unit: 'binary', maxLength: 80 }), fc.string({ unit: 'grapheme', maxLength: 80 }), fc.string({ maxLength: 80 }));

/** How the most lenient backend reads a path: decoded until stable, `\` as `/`, `;params` dropped, dots resolved, case folded. */
function lenientResolve(target: string): string | undefined {
  let path = target.split(/[?#]/, 1)[0] ?? '';
  for (let round = 0; path.includes('%'); round += 1) {
    if (round === 4) return undefined;
    try {
      path = decodeURIComponent(path);
    } catch {
      return undefined;
    }
  }
  const segments = path.replaceAll('\\', '/').split('/');
  const out: string[] = [];
  for (const raw of segments.slice(1)) {
    const segment = raw.replace(/;.*$/, '');
    if (segment === '..') out.pop();
    else if (segment !== '.' && segment !== '') out.push(segment);
  }
  return `/${out.join('/')}`.toLowerCase();
}

function under(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}

function app(id: string, externalUrl: string, internalUrl = 'http://127.0.0.1:9'): AppConfig {
  return { id, externalUrl, internalUrl } as unknown as AppConfig;
}

const APPS = [app('wiki', 'https://wiki.example.com'), app('ci', 'https://ci.example.com:8443'), app('local', 'http://localhost:3000')];

function fakeRequest(host: string | undefined): IncomingMessage {
  return { headers: host === undefined ? {} : { host } } as unknown as IncomingMessage;
}

describe('fuzz: request targets and app resolution', function () {
  this.timeout(fuzzTimeout(30_000));

  it('target checks never throw and answer a known reason or nothing', () => {
    const reasons = new Set([undefined, 'request_target_fragment', 'request_target_backslash', 'request_target_character', 'request_target_percent_encoding']);
    fc.assert(
      fc.property(fc.oneof(JUNK, TRAVERSAL), (target) => {
        assert.ok(reasons.has(requestTargetProblem(target)));
        assert.equal(typeof isReservedPath(target), 'boolean');
        const forms = requestPathForms(target);
        if (forms !== undefined) for (const form of forms) assert.ok(form.startsWith('/'), form);
        assert.equal(typeof leavesBasePath('http://10.0.0.5:8080/wiki/', target), 'boolean');
      }),
      runs(600),
    );
  });

  it('the request checks take any request line and header list, and answer a refusal or nothing', () => {
    const rawHeaders = fc.array(
      fc.tuple(fc.oneof(fc.constantFrom('Host', 'host', 'HOST', 'Cookie', 'cookie', 'X-A'), JUNK), fc.oneof(JUNK, fc.string({ maxLength: 9000 }))),
      {
        maxLength: 6,
      },
    );
    fc.assert(
      fc.property(fc.option(fc.oneof(JUNK, TRAVERSAL), { nil: undefined }), rawHeaders, (url, headers) => {
        const req = { url, rawHeaders: headers.flat(), headers: {} } as unknown as IncomingMessage;
        const refusal = refuse(req);
        if (refusal === undefined) {
          assert.ok(url?.startsWith('/') && requestTargetProblem(url) === undefined);
          assert.equal(headers.filter(([name]) => name.toLowerCase() === 'host').length, 1);
        } else assert.ok(refusal instanceof GatehouseError && refusal.status >= 400 && refusal.status < 500, refusal.code);
      }),
      runs(800),
    );
  });

  it('a Host header resolves to the app it names or to a clean refusal, never throws', () => {
    const table = createAppTable(APPS);
    const step = appResolutionStep({ table, unknownHost: 'reject' });
    const hosts = fc.oneof(
      JUNK,
      fc.constantFrom('wiki.example.com', 'WIKI.example.com.', 'wiki.example.com:443', 'ci.example.com:8443', 'ci.example.com', 'localhost:3000', 'localhost'),
      fc
        .tuple(
          fc.constantFrom('wiki.example.com', 'ci.example.com', 'localhost'),
          fc.constantFrom('', '.', ':443', ':80', ':8443', ':3000', ' ', '\t', '@evil', '/x', ':'),
        )
        .map(([host, tail]) => host + tail),
    );
    fc.assert(
      fc.property(fc.option(hosts, { nil: undefined }), (host) => {
        const req = fakeRequest(host);
        const context = { requestId: 'r', clientIp: '127.0.0.1', userAgent: undefined } as RequestContext;
        const outcome = step({ req, context, target: '/' });
        assert.ok(!(outcome instanceof Promise));
        if (outcome.kind === 'continue') {
          const resolved = context.app;
          assert.ok(resolved);
          // The app found is the one the normalized host names, by its host or with the scheme's default port.
          const normalized = normalizeHost(host);
          assert.ok(normalized !== undefined);
          const expected = new URL(resolved.externalUrl).host;
          assert.ok(normalized === expected || normalized.replace(/:(80|443)$/, '') === expected, `${host} → ${resolved.id}`);
        } else {
          assert.ok(outcome.error instanceof GatehouseError);
          assert.equal(outcome.error.code, 'ERR_UNKNOWN_HOST');
          assert.equal(context.app, undefined);
        }
      }),
      runs(800),
    );
  });

  it('no spelling of a path under /.gatehouse/ is let through as an ordinary path', () => {
    fc.assert(
      fc.property(TRAVERSAL, (target) => {
        const resolved = lenientResolve(target);
        if (resolved === undefined || !under(resolved, '/.gatehouse')) return;
        assert.ok(requestTargetProblem(target) !== undefined || isReservedPath(target), `${target} resolves to ${resolved}`);
      }),
      runs(1500),
    );
  });

  it('the reserved-path check answers as its forms say, plain paths included (its shortcut for them never differs)', () => {
    const byForms = (target: string): boolean => {
      const forms = requestPathForms(target);
      return forms === undefined || forms.some((form) => under(form, '/.gatehouse'));
    };
    const PLAIN = fc.stringMatching(/^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/\\]{0,40}(\?[A-Za-z0-9=&%#]{0,10})?$/);
    fc.assert(
      fc.property(
        fc.oneof(
          TRAVERSAL,
          JUNK,
          PLAIN,
          PLAIN.map((path) => path.replace(/[a-z]{0,9}/i, 'GateHouse')),
        ),
        (target) => {
          assert.equal(isReservedPath(target), byForms(target), target);
        },
      ),
      runs(3000),
    );
  });

  it("no spelling of a path under a policy's prefix escapes the policy", () => {
    const engine = createPolicyEngine({
      policies: [{ name: 'admin-blocked', state: 'on', conditions: { paths: ['/admin/'] }, grant: { block: true } }],
      namedLocations: {},
      mfa: { amr: ['mfa'], acr: [] },
    });
    const facts = (path: string): AccessFacts => ({
      user: { sub: 'u', groups: [], amr: [], authTime: 0, claims: {} },
      clientIp: '203.0.113.9',
      clientApp: 'browser',
      path,
      signInRisk: 'none',
      userRisk: 'none',
      now: 1,
    });
    fc.assert(
      fc.property(TRAVERSAL, (target) => {
        const resolved = lenientResolve(target);
        if (resolved === undefined || !under(resolved, '/admin')) return;
        if (requestTargetProblem(target) !== undefined) return;
        const path = target.split('?', 1)[0] ?? '';
        assert.equal(engine.evaluate(facts(path)).effect, 'deny', `${target} resolves to ${resolved}`);
      }),
      runs(1500),
    );
  });

  it("no accepted target reaches above an app's internal base path", () => {
    const bases = fc.constantFrom('http://10.0.0.5:8080/wiki', 'http://10.0.0.5:8080/wiki/', 'https://backend.internal/apps/wiki/');
    fc.assert(
      fc.property(bases, TRAVERSAL, (internalUrl, target) => {
        if (requestTargetProblem(target) !== undefined || isReservedPath(target) || leavesBasePath(internalUrl, target)) return;
        // What the forwarder sends: the base path, then the target as received (see websocket-forwarder.ts, httpxy's joinURL).
        const base = new URL(internalUrl).pathname.replace(/\/+$/, '');
        const resolved = lenientResolve(`${base}${target}`);
        assert.ok(resolved === undefined || under(resolved, base), `${target} under ${base} resolves to ${resolved}`);
      }),
      runs(1500),
    );
  });

  it('an app without a base path keeps every target, dot segments included', () => {
    fc.assert(
      fc.property(TRAVERSAL, (target) => {
        assert.equal(leavesBasePath('http://10.0.0.5:8080', target), false);
        assert.equal(leavesBasePath('http://10.0.0.5:8080/', target), false);
      }),
      runs(200),
    );
  });
});

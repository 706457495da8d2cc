import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { Counter, Registry } from 'prom-client';
import type { ConsoleSession } from '../../../src/admin/console/console-session.ts';
import { checkCsrf } from '../../../src/admin/console/csrf.ts';
import { readFilters, recentQuery } from '../../../src/admin/console/event-filter.ts';
import { eventFilter } from '../../../src/audit/recent-events.ts';
import { TrafficRing } from '../../../src/admin/console/traffic-ring.ts';
import { readWhatIf, whatIf } from '../../../src/admin/console/what-if.ts';
import type { AuditEvent } from '../../../src/audit/events.ts';
import { parseGatewayConfig } from '../../../src/config/parse.ts';
import { setsGatehouseCookie, withoutGatehouseCookies } from '../../../src/forwarding/gatehouse-cookies.ts';

const ORIGIN = 'https://admin.example.com:9100';
const session: ConsoleSession = { v: 1, k: 'admin-console', sub: 'u1', admin: true, csrf: 'a'.repeat(32) };
const request = (headers: Record<string, string>): IncomingMessage => ({ headers }) as unknown as IncomingMessage;

describe('admin console: its parts', () => {
  describe('the CSRF check', () => {
    it('passes the session token from the console itself, with or without an Origin header', () => {
      assert.equal(
        checkCsrf(request({ origin: ORIGIN, 'sec-fetch-site': 'same-origin' }), new URLSearchParams({ csrf: session.csrf }), session, ORIGIN),
        undefined,
      );
      assert.equal(checkCsrf(request({}), new URLSearchParams({ csrf: session.csrf }), session, ORIGIN), undefined);
    });

    it('refuses a missing, repeated, shorter, longer or wrong token, another origin and a cross-site or same-site call', () => {
      const form = (text: string): URLSearchParams => new URLSearchParams(text);
      assert.equal(checkCsrf(request({ origin: ORIGIN }), form(''), session, ORIGIN), 'csrf_missing');
      assert.equal(checkCsrf(request({ origin: ORIGIN }), form(`csrf=${session.csrf}&csrf=${session.csrf}`), session, ORIGIN), 'csrf_missing');
      assert.equal(checkCsrf(request({ origin: ORIGIN }), form(`csrf=${session.csrf.slice(1)}`), session, ORIGIN), 'csrf_mismatch');
      assert.equal(checkCsrf(request({ origin: ORIGIN }), form(`csrf=${session.csrf}a`), session, ORIGIN), 'csrf_mismatch');
      assert.equal(checkCsrf(request({ origin: ORIGIN }), form(`csrf=${'b'.repeat(32)}`), session, ORIGIN), 'csrf_mismatch');
      assert.equal(checkCsrf(request({ origin: 'https://evil.example' }), form(`csrf=${session.csrf}`), session, ORIGIN), 'origin_mismatch');
      assert.equal(checkCsrf(request({ origin: 'null' }), form(`csrf=${session.csrf}`), session, ORIGIN), 'origin_mismatch');
      assert.equal(checkCsrf(request({ 'sec-fetch-site': 'cross-site' }), form(`csrf=${session.csrf}`), session, ORIGIN), 'cross_site');
      assert.equal(checkCsrf(request({ 'sec-fetch-site': 'same-site' }), form(`csrf=${session.csrf}`), session, ORIGIN), 'cross_site');
    });
  });

  describe('the console cookie', () => {
    it('never reaches a backend, nor may a backend set it, when the console shares a host name with an app', () => {
      assert.equal(withoutGatehouseCookies('a=1; __Host-gh-admin=sealed; gh-admin=sealed; __HOST-GH-ADMIN=sealed; b=2', 'gatehouse'), 'a=1; b=2');
      assert.ok(setsGatehouseCookie('__Host-gh-admin=x; Path=/; Secure', 'gatehouse'));
      assert.ok(setsGatehouseCookie('gh-admin=x', 'gatehouse'));
      assert.ok(!setsGatehouseCookie('gh-administrator=x', 'gatehouse'));
    });
  });

  describe('the traffic ring', () => {
    it('turns samples of the request counter into requests per second and the 5xx share, per set of apps', async () => {
      const registry = new Registry();
      const counter = new Counter({ name: 'gatehouse_requests_total', help: 'h', labelNames: ['app', 'step', 'status_class'], registers: [registry] });
      let now = 1_000_000;
      const ring = new TrafficRing(registry, () => now);
      await ring.sample();
      counter.inc({ app: 'wiki', step: 'upstream', status_class: '2xx' }, 15);
      counter.inc({ app: 'wiki', step: 'upstream', status_class: '5xx' }, 5);
      counter.inc({ app: 'other', step: 'upstream', status_class: '5xx' }, 100);
      now += 10_000;
      await ring.sample();
      const [point] = ring.series(new Set(['wiki']));
      assert.equal(point?.perSecond, 2);
      assert.equal(point?.errorRate, 0.25);
      assert.deepEqual(
        ring.series(new Set(['none-of-these'])).map((each) => each.perSecond),
        [0],
      );
    });

    it('keeps only the window: 90 intervals', async () => {
      const registry = new Registry();
      let now = 0;
      const ring = new TrafficRing(registry, () => now);
      for (let index = 0; index < 200; index += 1) {
        now += 10_000;
        await ring.sample();
      }
      assert.equal(ring.series(new Set()).length, 90);
    });
  });

  describe('the events filters', () => {
    const event = (over: Partial<AuditEvent>): AuditEvent => ({
      id: 'e',
      time: '2026-01-01T00:00:00.000Z',
      type: 'access.denied',
      outcome: 'failure',
      ...over,
    });

    it('sends every filter to the recent events query, whose filter (the admin API one) does the matching', () => {
      const filters = readFilters(
        new URLSearchParams({ user: 'dana', app: 'wiki', kind: 'denials', outcome: 'failure', reason: 'grant.BLOCK', request: 'r-1' }),
      );
      assert.deepEqual(recentQuery(filters), {
        user: 'dana',
        app: 'wiki',
        outcome: 'failure',
        reason: 'grant.BLOCK',
        requestId: 'r-1',
        types: ['access.denied', 'policy.decision', 'request.rejected', 'session.rejected', 'bearer.rejected'],
        limit: 200,
      });
      const matches = (over: Partial<AuditEvent>, query = recentQuery(filters)): boolean =>
        eventFilter(query, 1000).matches(event({ user: { sub: 'dana' }, app: 'wiki', ...over }), 0);
      assert.ok(matches({ reason: 'staff only:grant.block', requestId: 'r-1' }));
      assert.ok(!matches({ reason: 'staff only:grant.block', requestId: 'r-2' }));
      assert.ok(!matches({ reason: 'grant.mfa_missing', requestId: 'r-1' }));
      assert.ok(!matches({ reason: 'staff only:grant.block', requestId: 'r-1', outcome: 'info' }));
      assert.ok(matches({ code: 'ERR_POLICY_DENIED', requestId: 'r-1' }, recentQuery(readFilters(new URLSearchParams({ reason: 'policy_denied' })))));
    });

    it('ignores an unknown outcome or kind rather than matching nothing', () => {
      const filters = readFilters(new URLSearchParams({ outcome: 'maybe', kind: 'constructor' }));
      assert.equal(filters.outcome, undefined);
      assert.equal(filters.kind, 'all');
    });
  });

  describe('"what if"', () => {
    const config = parseGatewayConfig({
      server: { port: 8443 },
      identityProvider: { issuer: 'https://idp.example.com', clientId: 'gatehouse', clientSecret: 'secret' },
      session: { secrets: [{ id: 1, secret: 'x'.repeat(40) }] },
      namedLocations: { office: ['10.0.0.0/8'] },
      apps: [
        {
          id: 'wiki',
          externalUrl: 'https://wiki.example.com',
          internalUrl: 'http://127.0.0.1:8080',
          policies: [
            { name: 'staff only', conditions: { users: { include: ['*'] }, groups: { exclude: ['staff'] } }, grant: { block: true } },
            { name: 'MFA outside the office', conditions: { locations: { include: ['any'], exclude: ['office'] } }, grant: { mfa: true } },
          ],
        },
      ],
    });
    const app = config.apps[0]!;
    const ask = (params: Record<string, string>): ReturnType<typeof whatIf> =>
      whatIf(app, config, readWhatIf(new URLSearchParams(params))!, Date.parse('2026-01-01T00:00:00Z'));

    it('decides with the policy engine: deny, step-up, allow, each with what the user is told', () => {
      const denied = ask({ user: 'mallory@example.com', groups: '', ip: '10.1.2.3' });
      assert.equal(denied.decision.effect, 'deny');
      assert.ok(denied.told.includes('Your account is not allowed to use this application.'));
      const stepUp = ask({ user: 'dana@example.com', groups: 'staff', ip: '203.0.113.7' });
      assert.equal(stepUp.decision.effect, 'step-up');
      assert.ok(stepUp.told.some((line) => line.includes('multi-factor')));
      assert.equal(ask({ user: 'dana@example.com', groups: 'staff, developers', ip: '203.0.113.7', mfa: 'yes' }).decision.effect, 'allow');
      assert.equal(ask({ user: 'dana@example.com', groups: 'staff', ip: '10.1.2.3' }).decision.effect, 'allow');
    });

    it('asks nothing without a user', () => {
      assert.equal(readWhatIf(new URLSearchParams({ groups: 'staff' })), undefined);
    });
  });
});

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { fileURLToPath } from 'node:url';
import { startNode } from '../../dev/lib/processes.ts';
import { AUDIT_EVENTS_PATH } from '../../src/audit/audit-query-router.ts';
import type { GatewayConfigInput } from '../../src/config/schema.ts';
import { ADMIN_APPS_PATH, ADMIN_CONNECTORS_PATH, ADMIN_OVERVIEW_PATH, ADMIN_WHAT_IF_SUFFIX } from '../../src/protocol/connector-api.ts';
import { startThrowawayConnector, type ThrowawayConnector } from '../../src/testing/index.ts';
import { signIn, startStack, type Stack } from '../support/stack.ts';

const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const CLI = fileURLToPath(new URL('../../src/cli/gatehouse.ts', import.meta.url));

/** `gatehouse admin …` as a child process, its token in the environment only. */
async function gatehouse(args: string[], token: string | undefined): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const running = startNode(CLI, args, { env: { GATEHOUSE_ADMIN_TOKEN: token ?? '' } });
  const [code] = (await once(running.child, 'exit')) as [number | null];
  return { code, stdout: running.stdout(), stderr: running.stderr() };
}

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown> & { error?: { code: string; reason: string; message: string } };
}

function withPolicies(config: GatewayConfigInput): GatewayConfigInput {
  return {
    ...config,
    namedLocations: { corporate: ['10.0.0.0/8'] },
    mfa: { amr: ['mfa'], acr: ['urn:gatehouse:mfa'], acrValues: ['urn:gatehouse:mfa'] },
    apps: (config.apps ?? []).map((app) =>
      app.id === 'wiki'
        ? {
            ...app,
            policies: [
              { name: 'staff only', conditions: { users: { include: ['*'] }, groups: { exclude: ['staff'] } }, grant: { block: true } },
              { name: 'mfa for admin', conditions: { paths: ['/admin/'] }, grant: { mfa: true } },
              { name: 'hr from the office', conditions: { paths: ['/hr/'], locations: { include: ['any'], exclude: ['corporate'] } }, grant: { block: true } },
            ],
          }
        : app,
    ),
  };
}

/** The admin API as a script calls it: HTTPS to the connector listener, trusting its CA, with or without a bearer token. */
function adminCall(stack: Stack, method: 'GET' | 'POST', path: string, token: string | undefined, body?: unknown): Promise<Answer> {
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      `${stack.connectorUrl}${path}`,
      {
        method,
        ca: [stack.gateway.connectors!.ca.certPem],
        headers: {
          ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
          ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Answer['body'] }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

describe('admin API: apps, what-if and overview on the connector listener', function () {
  this.timeout(90_000);
  let stack: Stack;
  let admin: string;
  let notAdmin: string;
  let connector: ThrowawayConnector;

  before(async () => {
    stack = await startStack({ connectors: true, configure: withPolicies, gatewayOptions: { testing: true } });
    admin = await stack.adminToken('alice');
    notAdmin = await stack.adminToken('bob');
    connector = await startThrowawayConnector({ gateway: stack.gateway, adminToken: admin, tunnels: 2 });
  });
  after(async () => {
    await connector.stop();
    await stack.close();
  });

  const whatIfPath = (app: string): string => `${ADMIN_APPS_PATH}/${app}${ADMIN_WHAT_IF_SUFFIX}`;
  const endpoints: ReadonlyArray<readonly ['GET' | 'POST', string, unknown]> = [
    ['GET', ADMIN_APPS_PATH, undefined],
    ['POST', whatIfPath('wiki'), { user: 'user-bob', groups: ['staff'] }],
    ['GET', ADMIN_OVERVIEW_PATH, undefined],
  ];

  for (const [method, path, body] of endpoints) {
    it(`${method} ${path}: 401 without a token, 401 not_admin for a non-admin's token, audited`, async () => {
      const missing = await adminCall(stack, method, path, undefined, body);
      assert.equal(missing.status, 401);
      assert.equal(missing.body.error?.code, 'ERR_ADMIN_TOKEN_MISSING');
      const refused = await adminCall(stack, method, path, notAdmin, body);
      assert.equal(refused.status, 401);
      assert.equal(refused.body.error?.code, 'ERR_ADMIN_TOKEN_INVALID');
      assert.equal(refused.body.error?.reason, 'not_admin');
      const audited = stack.audit.ofType('connector.refused').filter((event) => event.details?.['route'] === path);
      assert.ok(audited.some((event) => event.reason === 'not_admin'));
      const forged = await adminCall(stack, method, path, `${admin.slice(0, -4)}AAAA`, body);
      assert.equal(forged.status, 401, 'a token with a broken signature');
    });

    it(`${method} ${path}: 400 with a stable code for input it does not take`, async () => {
      const query = await adminCall(stack, method, `${path}?group=office`, admin, body);
      assert.equal(query.status, 400);
      assert.equal(query.body.error?.code, 'ERR_BAD_REQUEST');
      assert.equal(query.body.error?.reason, 'invalid_query');
    });
  }

  it('apps: URL, pre-authentication, connector group and its state, policies in the console wording', async () => {
    const { status, body } = await adminCall(stack, 'GET', ADMIN_APPS_PATH, admin);
    assert.equal(status, 200);
    const apps = body['apps'] as Array<Record<string, unknown>>;
    const wiki = apps.find((app) => app['id'] === 'wiki')!;
    assert.equal(wiki['externalUrl'], stack.urls.wiki);
    assert.equal(wiki['preauth'], 'oidc');
    assert.equal(wiki['connectorGroup'], 'default');
    const { streamsInFlight, ...group } = wiki['group'] as Record<string, unknown>;
    assert.deepEqual(group, { name: 'default', connectorsOnline: 1, connectorsOffline: 0, tunnels: 2 });
    assert.equal(typeof streamsInFlight, 'number', 'streams in flight: a count (a keep-alive stream of an earlier request may still be open)');
    const policies = wiki['policies'] as Array<Record<string, string>>;
    assert.deepEqual(
      policies.map((policy) => policy['name']),
      ['staff only', 'mfa for admin', 'hr from the office'],
    );
    assert.equal(policies[0]!['appliesTo'], 'everyone; except members of staff');
    assert.match(policies[0]!['asks']!, /^Blocks access\./);
    assert.equal(policies[1]!['stateWords'], 'enforced');
    assert.equal(apps.find((app) => app['id'] === 'open')?.['preauth'], 'passthrough');
  });

  it('what-if: 400 for a malformed body, 404 for an unknown app', async () => {
    for (const bad of [
      {},
      { user: '' },
      { user: 'x', ip: 'not-an-ip' },
      { user: 'x', mfa: 'yes' },
      { user: 'x', extra: 1 },
      { user: 'x', path: 'no-slash' },
      '{not json',
    ]) {
      const answer = await adminCall(stack, 'POST', whatIfPath('wiki'), admin, bad);
      assert.equal(answer.status, 400, JSON.stringify(bad));
      assert.equal(answer.body.error?.code, 'ERR_BAD_REQUEST');
    }
    const open = await adminCall(stack, 'POST', whatIfPath('open'), admin, { user: 'user-mallory' });
    assert.equal(open.status, 200);
    assert.deepEqual([open.body['effect'], open.body['reason'], open.body['passThrough']], ['allow', null, true], 'a pass-through app lets everyone through');
    const unknown = await adminCall(stack, 'POST', whatIfPath('nope'), admin, { user: 'x' });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error?.reason, 'no_app');
  });

  it('what-if answers what a real request under the same facts gets: a denial with its reason', async () => {
    const browser = stack.browser();
    const { response } = await signIn(stack, browser, 'mallory', '/');
    assert.equal(response.status, 403);
    const page = await response.text();
    const denied = stack.audit
      .ofType('access.denied')
      .filter((event) => event.user?.sub === 'user-mallory')
      .at(-1);
    assert.ok(denied);
    const { body } = await adminCall(stack, 'POST', whatIfPath('wiki'), admin, { user: 'user-mallory', groups: [] });
    assert.equal(body['effect'], 'deny');
    assert.equal(body['reason'], denied.reason);
    for (const line of body['told'] as string[]) assert.ok(page.includes(line.replace(/'/g, '&#39;')) || page.includes(line), line);
  });

  it('what-if answers what a real request under the same facts gets: allowed through the connector, step-up on /admin/', async () => {
    const browser = stack.browser();
    const { response } = await signIn(stack, browser, 'bob', '/docs');
    assert.equal(response.status, 200);
    const allowed = await adminCall(stack, 'POST', whatIfPath('wiki'), admin, { user: 'user-bob', groups: ['staff'], path: '/docs' });
    assert.equal(allowed.body['effect'], 'allow');
    assert.equal(allowed.body['reason'], null);
    const { chain } = await browser.navigate(`${stack.urls.wiki}/admin/panel`);
    assert.ok(chain.some((url) => url.includes('stepup=mfa')));
    const stepUp = await adminCall(stack, 'POST', whatIfPath('wiki'), admin, { user: 'user-bob', groups: ['staff'], path: '/admin/panel' });
    assert.equal(stepUp.body['effect'], 'step-up');
    assert.match(String(stepUp.body['reason']), /^mfa for admin:grant\.mfa/);
    const withMfa = await adminCall(stack, 'POST', whatIfPath('wiki'), admin, { user: 'user-bob', groups: ['staff'], path: '/admin/panel', mfa: true });
    assert.equal(withMfa.body['effect'], 'allow');
    const office = await adminCall(stack, 'POST', whatIfPath('wiki'), admin, { user: 'user-bob', groups: ['staff'], path: '/hr/', ip: '10.1.2.3' });
    assert.equal(office.body['effect'], 'allow', 'inside the named location');
    const away = await adminCall(stack, 'POST', whatIfPath('wiki'), admin, { user: 'user-bob', groups: ['staff'], path: '/hr/', ip: '203.0.113.7' });
    assert.equal(away.body['effect'], 'deny');
  });

  it('events: outcome, reason or code and request id each narrow the answer; a bad value is refused with 400', async () => {
    const { response } = await signIn(stack, stack.browser(), 'mallory', '/');
    assert.equal(response.status, 403);
    type Listed = { events: Array<{ type: string; outcome: string; reason?: string; code?: string; requestId?: string; user?: { sub: string } }> };
    const events = async (query: string): Promise<Listed['events']> => {
      const answer = await adminCall(stack, 'GET', `${AUDIT_EVENTS_PATH}?${query}`, admin);
      assert.equal(answer.status, 200, `${query}: ${JSON.stringify(answer.body)}`);
      return (answer.body as unknown as Listed).events;
    };
    const all = await events('limit=1000');
    const denied = all.find((event) => event.type === 'access.denied' && event.user?.sub === 'user-mallory');
    assert.ok(denied?.requestId, 'the denial carries its request id');

    const failures = await events('outcome=failure&limit=1000');
    assert.ok(failures.length > 0 && failures.length < all.length, 'outcome narrows');
    assert.ok(failures.every((event) => event.outcome === 'failure'));
    assert.ok(failures.some((event) => event.requestId === denied.requestId));
    const successes = await events('outcome=success&limit=1000');
    assert.ok(successes.length > 0 && successes.every((event) => event.outcome === 'success'));

    const byReason = await events('reason=GRANT.BLOCK&limit=1000');
    assert.ok(byReason.length > 0 && byReason.length < all.length, 'reason narrows');
    assert.ok(byReason.every((event) => (event.reason ?? '').toLowerCase().includes('grant.block')));
    const byCode = await events('reason=policy_denied&user=user-mallory&limit=1000');
    assert.ok(byCode.length > 0 && byCode.every((event) => event.code === 'ERR_POLICY_DENIED'), 'reason matches the code too');

    const byRequest = await events(`requestId=${encodeURIComponent(denied.requestId)}&limit=1000`);
    assert.ok(byRequest.length > 0 && byRequest.length < all.length, 'request id narrows');
    assert.ok(byRequest.every((event) => event.requestId === denied.requestId));
    assert.ok(byRequest.some((event) => event.type === 'access.denied'));
    assert.deepEqual(await events('requestId=no-such-request'), []);
    assert.deepEqual(await events(`requestId=${encodeURIComponent(denied.requestId)}&outcome=success&type=access.denied`), [], 'filters combine');

    for (const [query, reason] of [
      ['outcome=maybe', 'invalid_outcome'],
      ['outcome=failure&outcome=success', 'invalid_outcome'],
      [`reason=${'x'.repeat(129)}`, 'invalid_reason'],
      ['requestId=two%20words', 'invalid_requestId'],
      ['request=r-1', 'unknown_parameter'],
    ] as const) {
      const refused = await adminCall(stack, 'GET', `${AUDIT_EVENTS_PATH}?${query}`, admin);
      assert.equal(refused.status, 400, query);
      assert.deepEqual([refused.body.error?.code, refused.body.error?.reason], ['ERR_BAD_REQUEST', reason], query);
    }
    const unauthenticated = await adminCall(stack, 'GET', `${AUDIT_EVENTS_PATH}?outcome=maybe`, undefined);
    assert.equal(unauthenticated.status, 401, 'the token is checked before the filters');
  });

  it('overview: per group online, tunnels and streams; expiring certificates; readiness', async () => {
    const { status, body } = await adminCall(stack, 'GET', ADMIN_OVERVIEW_PATH, admin);
    assert.equal(status, 200);
    const groups = body['groups'] as Array<Record<string, unknown>>;
    const group = groups.find((entry) => entry['name'] === 'default')!;
    assert.equal(group['connectorsOnline'], 1);
    assert.equal(group['connectorsOffline'], 0);
    assert.equal(group['tunnels'], 2);
    assert.ok((group['apps'] as string[]).includes('wiki'));
    assert.deepEqual((body['expiringSoon'] as { certificates: unknown[] }).certificates, []);
    assert.equal((body['readiness'] as { status: string }).status, 'ready');
  });

  it('the connectors list: what the Connectors page shows (version, address and last seen, certificate age and expiry, tunnels) beside the fields of before', async () => {
    const before = stack.clock();
    const { status, body } = await adminCall(stack, 'GET', ADMIN_CONNECTORS_PATH, admin);
    const after = stack.clock();
    assert.equal(status, 200);
    type Entry = Record<string, unknown> & { certificate: Record<string, unknown> };
    const entry = (body['connectors'] as Entry[]).find((candidate) => candidate['id'] === connector.connectorId);
    assert.ok(entry);
    assert.deepEqual(
      [entry['group'], entry['name'], entry['revoked'], entry['connected'], entry['online'], entry['renewalDue']],
      ['default', 'throwaway-connector', false, true, true, false],
    );
    assert.equal(entry['version'], PACKAGE_VERSION, 'the version its User-Agent names');
    assert.equal(entry['client'], `gatehouse-connector/${PACKAGE_VERSION}`);
    assert.match(String(entry['address']), /^(::ffff:)?127\.0\.0\.1$/);
    const lastSeen = Date.parse(String(entry['lastSeen']));
    assert.ok(lastSeen >= before && lastSeen <= after, 'online: seen at the time of the call');
    assert.equal(entry['tunnels'], 2);
    assert.equal(typeof entry['streamsInFlight'], 'number');
    const { certificate } = entry;
    assert.match(String(certificate['fingerprint256']), /^[0-9A-F:]+$/i);
    // The call's "now" is somewhere between before and after.
    const issued = Date.parse(String(certificate['issuedAt'])) / 1000;
    const expires = Date.parse(String(certificate['notAfter'])) / 1000;
    const age = Number(certificate['ageSeconds']);
    const left = Number(certificate['expiresInSeconds']);
    assert.ok(age >= Math.floor(before / 1000) - issued && age <= Math.floor(after / 1000) - issued, `age ${age}`);
    assert.ok(left >= Math.floor(expires - after / 1000) && left <= Math.ceil(expires - before / 1000), `expires in ${left}`);
    assert.ok(Number(certificate['expiresInSeconds']) > 0);
    assert.ok(Date.parse(String(entry['registeredAt'])) <= stack.clock());
  });

  describe('gatehouse admin, as a script and a person run it', () => {
    const service = (): string[] => ['--service', stack.connectorUrl, '--ca-file', stack.connectorCaFile];

    it('apps and overview: a table by default, the API answer with --json', async () => {
      const table = await gatehouse(['admin', 'apps', ...service()], admin);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /^APP\s+EXTERNAL URL\s+PRE-AUTH\s+GROUP\s+CONNECTORS ONLINE$/m);
      assert.match(table.stdout, new RegExp(`^wiki\\s+${stack.urls.wiki.replace(/\./g, '\\.')}\\s+oidc\\s+default\\s+1 of 1$`, 'm'));
      assert.match(table.stdout, /staff only \(enforced\): everyone; except members of staff\. Blocks access\./);
      const json = await gatehouse(['admin', 'apps', ...service(), '--json'], admin);
      assert.equal(json.code, 0, json.stderr);
      // The same answer apart from the live stream count, read at two moments: a keep-alive stream of an earlier
      // request may close in between.
      const live = (body: unknown): unknown =>
        JSON.parse(JSON.stringify(body), (key: string, value: unknown) =>
          key === 'streamsInFlight' ? (typeof value === 'number' ? 'a count' : value) : value,
        );
      assert.deepEqual(live(JSON.parse(json.stdout)), live((await adminCall(stack, 'GET', ADMIN_APPS_PATH, admin)).body));

      const overview = await gatehouse(['admin', 'overview', ...service()], admin);
      assert.equal(overview.code, 0, overview.stderr);
      assert.match(overview.stdout, /^default\s+\S*wiki\S*\s+1\s+0\s+2\s+\d+$/m);
      assert.match(overview.stdout, /^default\s+gw-[0-9a-f]+\s+https:\/\/127\.0\.0\.1:\d+\s+live\s+2\s+\d+$/m, 'a row per gateway instance');
      assert.match(overview.stdout, /^Readiness: ready$/m);
      const overviewJson = await gatehouse(['admin', 'overview', ...service(), '--json'], admin);
      assert.equal((JSON.parse(overviewJson.stdout) as { readiness: { status: string } }).readiness.status, 'ready');
    });

    it('what-if and events: the decision and its reason, the denial in the events', async () => {
      const denied = await gatehouse(['admin', 'what-if', '--app', 'wiki', '--user', 'user-mallory', ...service()], admin);
      assert.equal(denied.code, 0, denied.stderr);
      assert.match(denied.stdout, /^user-mallory on wiki: denied \(staff only:grant\.block\)$/m);
      const stepUp = await gatehouse(
        ['admin', 'what-if', '--app', 'wiki', '--user', 'user-bob', '--group', 'staff', '--group', 'x', '--path', '/admin/', '--json', ...service()],
        admin,
      );
      const answer = JSON.parse(stepUp.stdout) as { effect: string; input: { groups: string[] } };
      assert.equal(answer.effect, 'step-up');
      assert.deepEqual(answer.input.groups, ['staff', 'x']);
      const allowed = await gatehouse(
        ['admin', 'what-if', '--app', 'wiki', '--user', 'user-bob', '--group', 'staff', '--mfa', '--path', '/admin/', ...service()],
        admin,
      );
      assert.match(allowed.stdout, /^user-bob on wiki: allowed$/m);

      await signIn(stack, stack.browser(), 'mallory', '/');
      const events = await gatehouse(
        ['admin', 'events', '--user', 'user-mallory', '--outcome', 'failure', '--reason', 'grant.block', '--limit', '5', ...service()],
        admin,
      );
      assert.equal(events.code, 0, events.stderr);
      assert.match(events.stdout, /^TIME\s+TYPE\s+OUTCOME\s+USER\s+APP\s+REASON\s+REQUEST$/m);
      assert.match(events.stdout, /access\.denied\s+failure\s+mallory@gatehouse\.test\s+wiki\s+ERR_POLICY_DENIED staff only:grant\.block/);
      const eventsJson = JSON.parse(
        (await gatehouse(['admin', 'events', '--user', 'user-mallory', '--outcome', 'failure', '--json', ...service()], admin)).stdout,
      ) as {
        events: Array<{ type: string; outcome: string }>;
      };
      assert.ok(eventsJson.events.length > 0);
      assert.ok(eventsJson.events.every((event) => event.outcome === 'failure'));
      assert.ok(eventsJson.events.some((event) => event.type === 'access.denied'));
      const denial = stack.audit
        .ofType('access.denied')
        .filter((event) => event.user?.sub === 'user-mallory')
        .at(-1)!;
      const byRequest = await gatehouse(['admin', 'events', '--request-id', denial.requestId!, '--json', ...service()], admin);
      assert.equal(byRequest.code, 0, byRequest.stderr);
      const requested = (JSON.parse(byRequest.stdout) as { events: Array<{ requestId: string; type: string }> }).events;
      assert.ok(requested.length > 0 && requested.every((event) => event.requestId === denial.requestId));
      assert.ok(requested.some((event) => event.type === 'access.denied'));
    });

    it('clear one-line errors and exit codes: no token, not an admin, unreachable, untrusted, bad flags, unknown app', async () => {
      const cases: Array<[string[], string | undefined, number, RegExp]> = [
        [['admin', 'apps', ...service()], undefined, 2, /GATEHOUSE_ADMIN_TOKEN is not set/],
        [['admin', 'apps', ...service()], notAdmin, 3, /refused the admin token \(401 ERR_ADMIN_TOKEN_INVALID, reason not_admin/],
        [['admin', 'apps', '--service', 'https://127.0.0.1:1'], admin, 1, /cannot reach https:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/],
        [['admin', 'apps', '--service', stack.connectorUrl], admin, 1, /cannot reach .*\(is --ca-file the CA of the connector listener\?\)/],
        [['admin', 'apps', '--service', 'http://127.0.0.1:1'], admin, 2, /--service must be an https URL/],
        [['admin', 'apps', '--token', 'x', ...service()], admin, 2, /unknown option --token/],
        [['admin', 'events', '--outcome', 'maybe', ...service()], admin, 2, /--outcome must be success, failure or info/],
        [['admin', 'events', '--limit', '0', ...service()], admin, 2, /--limit must be a number from 1 to 1000/],
        [['admin', 'events', '--request-id', 'two words', ...service()], admin, 1, /refused the call \(400 ERR_BAD_REQUEST, reason invalid_requestId/],
        [['admin', 'what-if', '--user', 'x', ...service()], admin, 2, /--app APP is required/],
        [['admin', 'what-if', '--app', 'nope', '--user', 'x', ...service()], admin, 1, /refused the call \(404 ERR_NOT_FOUND, reason no_app/],
        [['admin', 'connectors', 'revoke', ...service()], admin, 2, /the connector ID is required/],
        [['admin', 'connectors', 'move', 'c-1', ...service()], admin, 2, /--group GROUP is required/],
      ];
      for (const [args, token, code, message] of cases) {
        const run = await gatehouse(args, token);
        assert.equal(run.code, code, `${args.join(' ')}: ${run.stderr}`);
        assert.match(run.stderr, message);
        assert.equal(run.stderr.trim().split('\n')[0]!.length > 0, true);
        assert.equal(run.stdout, '');
        if (token) assert.ok(!run.stderr.includes(token), 'the token is never printed');
      }
    });

    it('connectors: the list, a refused move, a revoke that takes the connector offline (last: it stops the connector)', async () => {
      const list = await gatehouse(['admin', 'connectors', '--group', 'default', ...service()], admin);
      assert.equal(list.code, 0, list.stderr);
      assert.match(list.stdout, /^ID\s+GROUP\s+NAME\s+STATE\s+VERSION\s+ADDRESS SEEN\s+LAST SEEN\s+TUNNELS\s+CERTIFICATE$/m);
      const version = PACKAGE_VERSION.replace(/\./g, '\\.');
      assert.match(
        list.stdout,
        new RegExp(
          `^${connector.connectorId}\\s+default\\s+throwaway-connector\\s+online\\s+${version}\\s+(::ffff:)?127\\.0\\.0\\.1\\s+(now|\\d+ (s|min) ago)\\s+2 \\(\\d+ streams\\)\\s+\\d+ (s|min|h) old, expires in \\d+ (days|h) `,
          'm',
        ),
      );
      const other = JSON.parse((await gatehouse(['admin', 'connectors', '--group', 'elsewhere', '--json', ...service()], admin)).stdout) as {
        connectors: unknown[];
      };
      assert.deepEqual(other.connectors, []);
      const move = await gatehouse(['admin', 'connectors', 'move', connector.connectorId, '--group', 'nowhere', ...service()], admin);
      assert.equal(move.code, 1);
      assert.match(move.stderr, /ERR_UNKNOWN_GROUP/);
      const revoke = await gatehouse(['admin', 'connectors', 'revoke', connector.connectorId, ...service()], admin);
      assert.equal(revoke.code, 0, revoke.stderr);
      assert.equal(revoke.stdout, `Revoked connector ${connector.connectorId}.\n`);
      const revoked = stack.audit.ofType('connector.revoked').at(-1);
      assert.equal(revoked?.user?.sub, 'user-alice');
      const after = JSON.parse((await gatehouse(['admin', 'connectors', '--json', ...service()], admin)).stdout) as {
        connectors: Array<{ id: string; revoked: boolean }>;
      };
      assert.equal(after.connectors.find((entry) => entry.id === connector.connectorId)?.revoked, true);
      const overview = await adminCall(stack, 'GET', ADMIN_OVERVIEW_PATH, admin);
      assert.equal(
        (overview.body['groups'] as Array<{ name: string; connectorsOnline: number }>).find((entry) => entry.name === 'default')?.connectorsOnline,
        0,
      );
    });
  });

  describe('after a reload (last: it turns the rate limit on)', () => {
    it('apps follow the reloaded configuration, and an address whose calls are refused is refused on every admin call (429)', async () => {
      const rate = { ...stack.config.limits?.rate, connectorAdmin: { perSecond: 0.001, burst: 3 } };
      const apps = (stack.config.apps ?? []).map((app) =>
        app.id === 'other'
          ? { ...app, policies: [{ name: 'developers only', conditions: { groups: { exclude: ['developers'] } }, grant: { block: true } }] }
          : app,
      );
      const result = await stack.gateway.reload({ ...stack.config, apps, limits: { ...stack.config.limits, rate } });
      assert.ok(result.applied, JSON.stringify(result));
      const listed = await adminCall(stack, 'GET', ADMIN_APPS_PATH, admin);
      const other = (listed.body['apps'] as Array<{ id: string; policies: Array<{ name: string; appliesTo: string }> }>).find((app) => app.id === 'other');
      assert.deepEqual(
        other?.policies.map((policy) => [policy.name, policy.appliesTo]),
        [['developers only', 'except members of developers']],
      );
      const decided = await adminCall(stack, 'POST', whatIfPath('other'), admin, { user: 'user-bob', groups: ['staff'] });
      assert.equal(decided.body['reason'], 'developers only:grant.block');

      // The test clock stands still: the bucket does not refill during the test.
      for (let attempt = 0; attempt < 3; attempt++) assert.equal((await adminCall(stack, 'GET', ADMIN_OVERVIEW_PATH, undefined)).status, 401);
      for (const [method, path, body] of [...endpoints, ['GET', ADMIN_CONNECTORS_PATH, undefined] as const]) {
        const limited = await adminCall(stack, method, path, admin, body);
        assert.equal(limited.status, 429, `${method} ${path}`);
        assert.equal(limited.body.error?.code, 'ERR_RATE_LIMITED');
      }
    });
  });
});

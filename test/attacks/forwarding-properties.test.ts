import assert from 'node:assert/strict';
import fc from 'fast-check';
import { startForwardingStack, type ForwardingMode, type ForwardingStack } from '../support/forwarding-stack.ts';
import { rawRequest, rawUpgrade, type RawHeader } from '../support/raw-forward.ts';

/**
 * Property-based: whatever headers a client sends — any case, `_` for `-`,
 * duplicates, `Connection` lists, `Expect` — no Gatehouse cookie, no client
 * copy of an identity, forwarding or assertion header and no hop-by-hop
 * header reaches a real backend; and whatever `Set-Cookie` a backend answers
 * with, none that names a Gatehouse cookie reaches the client. Through the
 * direct forwarder and a real tunnel, for requests and WebSocket handshakes.
 */

/** Names a client might use to pass as someone, as something, or to strip our headers. */
const HOSTILE_NAMES = [
  'x-remote-user',
  'x-remote-groups',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-user',
  'forwarded',
  'x-real-ip',
  'x-request-id',
  'x-gatehouse-assertion',
  'x-gatehouse-user',
  'remote-user',
  'x-auth-request-email',
  'x-ms-client-principal-name',
  'cf-access-authenticated-user-email',
  'x-goog-authenticated-user-id',
  'keep-alive',
  'te',
  'trailer',
  'proxy-authorization',
  'proxy-connection',
  'cookie',
];
/** Ordinary headers: they must still arrive (the property is not met by dropping everything). */
const BENIGN_NAMES = ['x-app-thing', 'accept-language', 'x-trace'];
/** What Gatehouse sets itself: a Connection header naming one of these is refused. */
const OWNED =
  /^(?:x-forwarded-.*|forwarded|x-real-ip|x-client-ip|x-request-id|x-gatehouse-.*|x-remote-user|x-remote-groups|cookie|host|x-original-.*|x-rewrite-url|true-client-ip|cf-connecting-ip|x-cluster-client-ip)$/;
const HOP_BY_HOP = ['keep-alive', 'te', 'trailer', 'proxy-authorization', 'proxy-connection', 'expect', 'transfer-encoding', 'http2-settings'];
const NEVER_SET_BY_GATEHOUSE = [
  'x-forwarded-user',
  'forwarded',
  'x-real-ip',
  'x-gatehouse-user',
  'remote-user',
  'x-auth-request-email',
  'x-ms-client-principal-name',
  'cf-access-authenticated-user-email',
  'x-goog-authenticated-user-id',
];
const GATEHOUSE_COOKIE = /^(?:__host-|__secure-)?(?:gatehouse|gh-tx-.*|gh-loop)$/i;

const spelled = (name: string): fc.Arbitrary<string> =>
  fc
    .array(fc.boolean(), { minLength: name.length, maxLength: name.length })
    .chain((upper) =>
      fc.boolean().map((underscore) => [...name].map((char, index) => (char === '-' && underscore ? '_' : upper[index] ? char.toUpperCase() : char)).join('')),
    );
const cookieValue = fc
  .array(
    fc.constantFrom('__Host-gatehouse=forged', '__host-GATEHOUSE=x', 'gatehouse=y', '__Secure-gh-tx-abc=1', 'GH-LOOP=9', '__Host-gatehouse', 'app_pref=dark'),
    {
      minLength: 1,
      maxLength: 4,
    },
  )
  .map((pairs) => pairs.join('; '));
const headerValue = fc.stringMatching(/^[A-Za-z0-9.@=-]{1,16}$/);
const header = (names: readonly string[]): fc.Arbitrary<RawHeader> =>
  fc
    .constantFrom(...names)
    .chain((name) => fc.tuple(spelled(name), name === 'cookie' ? cookieValue : name === 'trailer' ? fc.constant('X-Checksum') : headerValue));

interface Generated {
  readonly headers: RawHeader[];
  readonly connection: string[] | undefined;
  readonly expect: boolean;
  readonly post: boolean;
}

const generated = (names: readonly string[]): fc.Arbitrary<Generated> =>
  fc.record({
    headers: fc.array(header([...names, ...BENIGN_NAMES]), { minLength: 1, maxLength: 12 }),
    connection: fc.option(
      fc.array(fc.oneof(fc.constantFrom(...names, ...BENIGN_NAMES), fc.constantFrom('close', 'keep-alive')), { minLength: 1, maxLength: 3 }),
      {
        nil: undefined,
      },
    ),
    expect: fc.boolean(),
    post: fc.boolean(),
  });

type Seen = Record<string, string | string[] | undefined>;

function assertClean(seen: Seen, sent: Generated, app: 'wiki' | 'open', host: string, kind: 'http' | 'upgrade'): void {
  const names = Object.keys(seen);
  assert.deepEqual(
    names.filter((name) => name.includes('_')),
    [],
    'no name with "_"',
  );
  for (const name of HOP_BY_HOP) assert.equal(seen[name], undefined, name);
  for (const name of NEVER_SET_BY_GATEHOUSE) assert.equal(seen[name], undefined, name);
  if (kind === 'http')
    assert.ok(['keep-alive', 'close', undefined].includes(seen['connection'] as string | undefined), `connection: ${String(seen['connection'])}`);
  else assert.equal(String(seen['connection']).toLowerCase(), 'upgrade');
  assert.equal(seen['x-forwarded-for'], '127.0.0.1');
  assert.equal(seen['x-forwarded-host'], host);
  assert.equal(seen['x-forwarded-proto'], 'https');
  assert.match(String(seen['x-request-id']), /^[0-9a-f-]{36}$/);
  if (app === 'wiki') {
    assert.equal(seen['x-remote-user'], 'alice@gatehouse.test');
    assert.equal(seen['x-remote-groups'], 'admins,staff');
    assert.match(String(seen['x-gatehouse-assertion']), /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
  } else {
    for (const name of ['x-remote-user', 'x-remote-groups', 'x-gatehouse-assertion']) assert.equal(seen[name], undefined, name);
  }
  for (const pair of String(seen['cookie'] ?? '').split(';')) {
    const name = pair.split('=')[0]?.trim() ?? '';
    assert.doesNotMatch(name, GATEHOUSE_COOKIE, `cookie ${pair}`);
  }
  // Positive control: ordinary headers the client did not mark hop-by-hop still arrive.
  const dropped = new Set((sent.connection ?? []).map((token) => token.toLowerCase()));
  for (const [name] of sent.headers) {
    const lower = name.toLowerCase();
    if (BENIGN_NAMES.includes(lower) && !dropped.has(lower)) assert.notEqual(seen[lower], undefined, `${lower} arrives`);
  }
}

function refusedByConnection(sent: Generated): boolean {
  return (sent.connection ?? []).some((token) => OWNED.test(token.toLowerCase()));
}

for (const mode of ['direct', 'tunnel'] as ForwardingMode[]) {
  describe(`properties: what reaches the backend and what comes back (${mode})`, function () {
    this.timeout(120_000);
    let forwarding: ForwardingStack;

    before(async () => {
      forwarding = await startForwardingStack(mode);
    });
    after(async () => {
      await forwarding?.close();
    });

    for (const app of ['wiki', 'open'] as const) {
      it(`no client-chosen identity, forwarding, hop-by-hop header or Gatehouse cookie reaches the backend (${app}, requests)`, async () => {
        const { stack } = forwarding;
        const target = forwarding.target(app);
        let forwarded = 0;
        await fc.assert(
          fc.asyncProperty(generated(HOSTILE_NAMES), async (sent) => {
            stack.backend.requests.length = 0;
            const headers: RawHeader[] = [
              ...(app === 'wiki' ? [['Cookie', forwarding.cookies.alice] as const] : []),
              ...sent.headers,
              ['Accept', 'application/json'],
            ];
            if (sent.connection) headers.push(['Connection', sent.connection.join(', ')]);
            if (sent.expect) headers.push(['Expect', '100-continue']);
            const response = await rawRequest(target, sent.post ? 'POST' : 'GET', '/echo', headers, sent.post ? 'body' : '');
            if (refusedByConnection(sent)) {
              assert.equal(response.status, 400, response.body);
              assert.equal(stack.backend.requests.length, 0);
              return;
            }
            if (response.status !== 200) {
              // A forged session cookie placed first is still only a refusal, and nothing is forwarded.
              assert.ok([401, 403].includes(response.status), `${response.status} ${response.body}`);
              assert.equal(stack.backend.requests.length, 0);
              return;
            }
            forwarded += 1;
            assert.equal(stack.backend.requests.length, 1);
            assertClean(stack.backend.requests[0]!.headers, sent, app, target.host, 'http');
          }),
          { numRuns: 100 },
        );
        assert.ok(forwarded >= 25, `only ${forwarded} of 100 requests reached the backend: the property would hold vacuously`);
      });

      it(`the same for WebSocket handshakes (${app})`, async () => {
        const { stack } = forwarding;
        const target = forwarding.target(app);
        const names = HOSTILE_NAMES.filter((name) => !['te', 'trailer', 'keep-alive'].includes(name));
        let upgraded = 0;
        await fc.assert(
          fc.asyncProperty(generated(names), async (sent) => {
            const headers: RawHeader[] = [
              ...(app === 'wiki' ? [['Cookie', forwarding.cookies.alice] as const, ['Origin', stack.urls.wiki] as const] : []),
              ...sent.headers,
            ];
            const upgrade = await rawUpgrade(target, '/socket', headers);
            if (upgrade.response.status !== 101) {
              assert.ok([400, 401, 403].includes(upgrade.response.status), `${upgrade.response.status}`);
              return;
            }
            upgraded += 1;
            const echoed = JSON.parse(upgrade.firstMessage ?? '{}') as { headers: Seen };
            assertClean(echoed.headers, { ...sent, connection: undefined }, app, target.host, 'upgrade');
          }),
          { numRuns: 40 },
        );
        assert.ok(upgraded >= 10, `only ${upgraded} of 40 handshakes reached the backend`);
      });
    }

    const setCookieLine = fc
      .tuple(
        fc.constantFrom('', ' ', '='),
        fc.constantFrom('__Host-', '__host-', '__HOST-', '__Secure-', '__secure-', ''),
        fc.constantFrom('gatehouse', 'GateHouse', 'gh-tx-x1', 'GH-TX-abc', 'gh-loop', 'app', 'gatehouse2'),
        fc.constantFrom('=v', '= v', '', '=a=b'),
        fc.constantFrom('; Path=/', '; Path=/; Secure', ''),
      )
      .map(([lead, prefix, name, value, attributes]) => `${lead}${prefix}${name}${value}${attributes}`);

    /** The name a browser stores a Set-Cookie line under (RFC 6265bis §5.6): a nameless cookie is sent back as its value. */
    const sentBackAs = (line: string): string => {
      const pair = line.split(';')[0] ?? '';
      const equals = pair.indexOf('=');
      if (equals > 0 && pair.slice(0, equals).trim()) return pair.slice(0, equals).trim();
      const value = equals < 0 ? pair.trim() : pair.slice(equals + 1).trim();
      return value.split('=')[0]?.trim() ?? '';
    };

    it('no backend Set-Cookie that a browser would store under a Gatehouse name reaches the client (responses and handshakes)', async () => {
      const target = forwarding.target('open');
      await fc.assert(
        fc.asyncProperty(fc.array(setCookieLine, { minLength: 1, maxLength: 5 }), fc.boolean(), async (lines, websocket) => {
          const query = `c=${encodeURIComponent(JSON.stringify(lines))}`;
          const response = websocket
            ? (await rawUpgrade(target, `/ws-set-cookies?${query}`, [])).response
            : await rawRequest(target, 'GET', `/set-cookies?${query}`, [
                ['Accept', 'application/json'],
                ['Connection', 'close'],
              ]);
          assert.equal(response.status, websocket ? 101 : 200);
          const kept = response.all('set-cookie');
          for (const line of kept) assert.doesNotMatch(sentBackAs(line), GATEHOUSE_COOKIE, line);
          // And the app's own cookies are not collateral damage.
          const expected = lines.filter((line) => !GATEHOUSE_COOKIE.test(sentBackAs(line)));
          assert.equal(kept.length, expected.length, `${JSON.stringify(lines)} → ${JSON.stringify(kept)}`);
        }),
        { numRuns: 80 },
      );
    });
  });
}

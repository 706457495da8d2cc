import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { memorySink, type MemorySink } from '../../src/audit/audit-log.ts';
import type { GatewayConfigInput } from '../../src/config/schema.ts';
import { createGateway, type Gateway } from '../../src/gateway/create-gateway.ts';
import { anonymousAgent, signedInAgent, startTestBackend, startThrowawayConnector, TestingError, type TestBackend } from '../../src/testing/index.ts';
import { importPeer } from '../../src/testing/import-peer.ts';
import { createTestClock, type TestClock } from '../support/clock.ts';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const SECRET = 'testing-agents-session-secret-0123456789abcdef';

interface ErrorBody {
  error: { code: string };
}

interface Received {
  method: string;
  path: string;
  headers: Record<string, string | undefined>;
}

function configFor(backend: TestBackend): GatewayConfigInput {
  return {
    // Never contacted: a minted session needs no sign-in.
    identityProvider: { issuer: 'https://login.example.test', clientId: 'gatehouse', clientSecret: 'not-used-by-these-tests' },
    session: { secrets: [{ id: 1, secret: SECRET }] },
    apps: [
      {
        id: 'wiki',
        externalUrl: 'https://wiki.example.test',
        internalUrl: backend.url,
        identityHeaders: { 'X-Remote-User': 'email' },
        policies: [
          { name: 'no contractors', conditions: { groups: { include: ['contractors'] } }, grant: { block: true } },
          { name: 'mfa for admin', conditions: { paths: ['/admin/'] }, grant: { mfa: true } },
        ],
      },
      { id: 'other', externalUrl: 'https://other.example.test', internalUrl: backend.url },
    ],
  };
}

/** Files under src/ other than src/testing/ that import from it. */
function importersOfTesting(): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(SRC, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const path = join(entry.parentPath, entry.name);
    const rel = relative(SRC, path);
    if (rel.startsWith('testing/')) continue;
    if (/from\s+['"][^'"]*\/testing\/|import\(\s*['"][^'"]*\/testing\//.test(readFileSync(path, 'utf8'))) found.push(rel);
  }
  return found;
}

describe('gatehouse/testing: supertest agents', function () {
  this.timeout(30_000);
  let backend: TestBackend;
  let gateway: Gateway;
  let audit: MemorySink;
  let clock: TestClock;
  let app: express.Express;

  before(async () => {
    backend = await startTestBackend();
    audit = memorySink();
    clock = createTestClock();
    gateway = createGateway(configFor(backend), { testing: true, audit, clock, unknownHost: 'next' });
    app = express();
    app.use(gateway.handler);
    app.get('/health', (_req, res) => {
      res.type('text/plain').send('ok');
    });
  });
  after(async () => {
    await gateway.close();
    await backend.close();
  });
  beforeEach(() => {
    backend.requests.length = 0;
    audit.clear();
    clock.reset();
  });

  it('refuses a gateway that was not created in test mode, with ERR_TESTING_DISABLED', async () => {
    const production = createGateway(configFor(backend), { audit: memorySink() });
    try {
      for (const attempt of [
        () => signedInAgent(app, production, 'wiki', { sub: 'user-1' }),
        () => anonymousAgent(app, production, 'wiki'),
        () => startThrowawayConnector({ gateway: production, adminToken: 'x' }),
      ]) {
        await assert.rejects(attempt, (error: unknown) => {
          assert.ok(error instanceof TypeError);
          assert.ok(error instanceof TestingError);
          assert.equal(error.code, 'ERR_TESTING_DISABLED');
          assert.match(error.message, /\{ testing: true \}/);
          return true;
        });
      }
    } finally {
      await production.close();
    }
  });

  it('makes the gateway warn loudly when test mode is on', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(warning);
    };
    process.on('warning', onWarning);
    const testing = createGateway(configFor(backend), { testing: true, audit: memorySink() });
    try {
      // Warnings are emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
      assert.ok(warnings.some((warning) => (warning as NodeJS.ErrnoException).code === 'GATEHOUSE_TEST_MODE' && /TEST MODE/.test(warning.message)));
    } finally {
      process.off('warning', onWarning);
      await testing.close();
    }
  });

  it('signs in through the real session gate: the backend gets the identity, never the cookie', async () => {
    const agent = await signedInAgent(app, gateway, 'wiki', { sub: 'user-1', email: 'ada@example.test', name: 'Ada', groups: ['staff'] });
    const response = await agent.get('/docs/page?x=1').set('Accept', 'application/json');
    assert.equal(response.status, 200, response.text);
    const received = response.body as Received;
    assert.equal(received.path, '/docs/page?x=1');
    assert.equal(received.headers['x-remote-user'], 'ada@example.test');
    assert.equal(received.headers['cookie'], undefined);
    // The assertion is signed with the gateway's key and verifies against its published JWKS.
    const jwks = (await agent.get('/.gatehouse/jwks.json')).body as JSONWebKeySet;
    const { payload } = await jwtVerify(received.headers['x-gatehouse-assertion'] ?? '', createLocalJWKSet(jwks), {
      issuer: 'urn:gatehouse',
      audience: 'https://wiki.example.test',
      algorithms: ['ES256'],
    });
    assert.equal(payload.sub, 'user-1');
    // The agent keeps its session across requests.
    assert.equal((await agent.get('/again').set('Accept', 'application/json')).status, 200);
    assert.equal(backend.requests.length, 2);
  });

  it('runs the real conditional-access policies', async () => {
    const contractor = await signedInAgent(app, gateway, 'wiki', { sub: 'user-2', groups: ['contractors'] });
    const blocked = await contractor.get('/docs').set('Accept', 'application/json');
    assert.equal(blocked.status, 403);
    assert.equal((blocked.body as ErrorBody).error.code, 'ERR_POLICY_DENIED');
    assert.ok(audit.ofType('access.denied').some((event) => event.user?.sub === 'user-2'));

    const passwordOnly = await signedInAgent(app, gateway, 'wiki', { sub: 'user-3', groups: ['staff'] });
    const stepUp = await passwordOnly.get('/admin/users').set('Accept', 'application/json');
    assert.equal(stepUp.status, 401);
    assert.equal((stepUp.body as ErrorBody).error.code, 'ERR_STEP_UP_REQUIRED');

    const multiFactor = await signedInAgent(app, gateway, 'wiki', { sub: 'user-3', groups: ['staff'], amr: ['pwd', 'mfa'] });
    assert.equal((await multiFactor.get('/admin/users').set('Accept', 'application/json')).status, 200);
    assert.deepEqual(
      backend.requests.map((request) => request.path),
      ['/admin/users'],
    );
  });

  it('seals the session for one app: another app refuses it, and it expires', async () => {
    const elsewhere = await signedInAgent(app, gateway, 'wiki', { sub: 'user-4' }, { host: 'other.example.test' });
    const refused = await elsewhere.get('/').set('Accept', 'application/json');
    assert.equal(refused.status, 401);
    assert.equal((refused.body as ErrorBody).error.code, 'ERR_SESSION_INVALID');

    const shortLived = await signedInAgent(app, gateway, 'wiki', { sub: 'user-4', lifetime: 60 });
    assert.equal((await shortLived.get('/').set('Accept', 'application/json')).status, 200);
    clock.advance(61_000);
    const expired = await shortLived.get('/').set('Accept', 'application/json');
    assert.equal(expired.status, 401);
    assert.equal((expired.body as ErrorBody).error.code, 'ERR_SESSION_EXPIRED');
  });

  it('an anonymous agent meets the gate as a stranger; the host app keeps its own routes', async () => {
    const anonymous = await anonymousAgent(app, gateway, 'wiki');
    const api = await anonymous.get('/docs').set('Accept', 'application/json');
    assert.equal(api.status, 401);
    assert.equal((api.body as ErrorBody).error.code, 'ERR_SESSION_REQUIRED');
    assert.match(api.headers['www-authenticate'] ?? '', /^Gatehouse realm="wiki"/);
    const navigation = await anonymous.get('/docs').set('Accept', 'text/html').set('Sec-Fetch-Mode', 'navigate');
    assert.equal(navigation.status, 302);
    assert.match(navigation.headers['location'] ?? '', /^https:\/\/wiki\.example\.test\/\.gatehouse\/signin\?rd=%2Fdocs/);
    assert.equal((await anonymous.get('/robots.txt')).text, 'User-agent: *\nDisallow: /\n');
    // The app's own route for its own host: supertest's default Host is 127.0.0.1:PORT, which publishes no app.
    const own = await anonymousAgent(app, gateway, 'wiki', { host: 'internal.example.test' });
    assert.equal((await own.get('/health')).text, 'ok');
    assert.equal(backend.requests.length, 0);
  });

  it('drives an http.Server as well as an Express app', async () => {
    const server: Server = createServer(app);
    const agent = await signedInAgent(server, gateway, 'wiki', { sub: 'user-5' });
    assert.equal((await agent.get('/via-server').set('Accept', 'application/json')).status, 200);
    assert.equal(server.listening, false, 'supertest closes the server it opened');
  });

  it('names an unknown app and a missing user', async () => {
    await assert.rejects(
      () => signedInAgent(app, gateway, 'nope', { sub: 'user-1' }),
      (error: unknown) => {
        assert.ok(error instanceof TestingError);
        assert.equal(error.code, 'ERR_INVALID_ARG_VALUE');
        assert.match(error.message, /no app "nope" \(it publishes "wiki", "other"\)/);
        return true;
      },
    );
    await assert.rejects(() => signedInAgent(app, gateway, 'wiki', { sub: '' }), { code: 'ERR_INVALID_ARG_VALUE' });
    await assert.rejects(
      () => startThrowawayConnector({ gateway, adminToken: 'token' }),
      (error: unknown) => {
        assert.ok(error instanceof TestingError);
        assert.match(error.message, /no connector service\. Configure `connectors`/);
        return true;
      },
    );
  });

  it('names supertest, and how to install it, when it is missing', async () => {
    const absent = 'gatehouse-testing-no-such-package';
    await assert.rejects(
      () => importPeer(absent, 'the agents', () => import(absent)),
      (error: unknown) => {
        assert.equal((error as NodeJS.ErrnoException).code, 'ERR_TESTING_PEER_MISSING');
        assert.match((error as Error).message, new RegExp(`needs the package "${absent}".*npm install --save-dev ${absent}`));
        return true;
      },
    );
    // A failure inside an installed package is not reported as a missing peer.
    await assert.rejects(() => importPeer('supertest', 'the agents', () => Promise.reject(new Error('boom'))), /boom/);
  });

  it('is imported by nothing in src/ but itself, so production code never loads it', () => {
    assert.deepEqual(importersOfTesting(), []);
  });
});

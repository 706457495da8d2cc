/**
 * The app's own test suite: fast supertest tests of its routes with Gatehouse
 * mounted, no identity provider and no browser. The sessions are sealed with
 * the gateway's real keys, so the real session gate and the real policies run.
 *
 * In your suite: `from 'gatehouse'` and `from 'gatehouse/testing'`.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import { memorySink } from 'gatehouse';
import { anonymousAgent, signedInAgent, startTestBackend, type TestBackend } from 'gatehouse/testing';
import { createApp, type Portal } from './app.ts';

interface GatehouseErrorBody {
  error: { code: string };
}

describe('the portal, with Gatehouse mounted', () => {
  let hr: TestBackend;
  let portal: Portal;

  before(async () => {
    // Stands in for the HR application: answers with what it received.
    hr = await startTestBackend();
    portal = createApp({
      // Never contacted: test sessions need no sign-in.
      identityProvider: { issuer: 'https://login.example.com', clientId: 'portal', clientSecret: 'unused-in-tests' },
      sessionSecret: 'a-test-only-session-secret-0123456789abcdef',
      hrUrl: 'https://hr.example.com',
      hrInternalUrl: hr.url,
      gatewayOptions: { testing: true, audit: memorySink() },
    });
  });
  after(async () => {
    await portal.gateway.close();
    await hr.close();
  });

  it('answers its own routes without a sign-in', async () => {
    await request(portal.app).get('/health').expect(200, 'ok');
    const status = await request(portal.app).get('/api/status').expect(200);
    assert.deepEqual(status.body, { portal: 'up', apps: ['hr'] });
  });

  it('asks strangers on the HR host to sign in', async () => {
    const stranger = await anonymousAgent(portal.app, portal.gateway, 'hr');
    const api = await stranger.get('/employees').set('Accept', 'application/json').expect(401);
    assert.equal((api.body as GatehouseErrorBody).error.code, 'ERR_SESSION_REQUIRED');
    await stranger.get('/employees').set('Accept', 'text/html').set('Sec-Fetch-Mode', 'navigate').expect(302);
    assert.equal(hr.requests.length, 0);
  });

  it('lets staff in and tells the HR application who they are', async () => {
    const staff = await signedInAgent(portal.app, portal.gateway, 'hr', { sub: 'u-1', email: 'ada@example.com', groups: ['staff'] });
    const response = await staff.get('/employees?page=2').set('Accept', 'application/json').expect(200);
    const received = response.body as { path: string; headers: Record<string, string> };
    assert.equal(received.path, '/employees?page=2');
    assert.equal(received.headers['x-remote-user'], 'ada@example.com');
    assert.ok(received.headers['x-gatehouse-assertion']);
    assert.equal(received.headers['cookie'], undefined, "Gatehouse's cookie never reaches the backend");
  });

  it('blocks contractors, by the real policy', async () => {
    const contractor = await signedInAgent(portal.app, portal.gateway, 'hr', { sub: 'u-2', groups: ['contractors'] });
    const denied = await contractor.get('/employees').set('Accept', 'application/json').expect(403);
    assert.equal((denied.body as GatehouseErrorBody).error.code, 'ERR_POLICY_DENIED');
  });

  it('asks for MFA on payroll, and lets an MFA session in', async () => {
    const passwordOnly = await signedInAgent(portal.app, portal.gateway, 'hr', { sub: 'u-3', groups: ['staff'], amr: ['pwd'] });
    const stepUp = await passwordOnly.get('/payroll/2025').set('Accept', 'application/json').expect(401);
    assert.equal((stepUp.body as GatehouseErrorBody).error.code, 'ERR_STEP_UP_REQUIRED');
    const withMfa = await signedInAgent(portal.app, portal.gateway, 'hr', { sub: 'u-3', groups: ['staff'], amr: ['pwd', 'mfa'] });
    await withMfa.get('/payroll/2025').set('Accept', 'application/json').expect(200);
  });
});

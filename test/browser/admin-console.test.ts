import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { DEMO_GROUP, type Demo } from '../../dev/demo/demo-stack.ts';
import { launchChromium, startDemoOnFreePorts } from './browser-demo.ts';

const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'admin-console');

/**
 * The admin console of the demo, driven by a real headless Chromium: an admin signs in,
 * sees both connectors online, revokes one (the app keeps working through the other),
 * registers a new one; a non-admin gets 403; a form post without the CSRF token or from
 * another origin changes nothing. Screenshots of each page go to test-artifacts/admin-console/.
 */
describe('in a real browser: the admin console', function () {
  this.timeout(180_000);
  let demo: Demo;
  let browser: Browser;
  let dir: string;
  let admin: { context: BrowserContext; page: Page };

  before(async function () {
    rmSync(ARTIFACTS, { recursive: true, force: true });
    mkdirSync(ARTIFACTS, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-console-'));
    // Chromium first: without it, the test stops before starting anything.
    browser = await launchChromium();
    demo = await startDemoOnFreePorts(dir);
    admin = await fresh();
  });
  after(async () => {
    await browser?.close();
    await demo?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function fresh(): Promise<{ context: BrowserContext; page: Page }> {
    // The demo's certificates come from its own CA; the test trusts them the way a user who imported it would.
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
    return { context, page: await context.newPage() };
  }

  const screenshot = (page: Page, name: string): Promise<Buffer> => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

  async function signInAt(page: Page, login: string, password: string): Promise<void> {
    await page.waitForSelector('input[name="login"]');
    await page.fill('input[name="login"]', login);
    await page.fill('input[name="password"]', password);
    await Promise.all([page.waitForLoadState('load'), page.click('button[type="submit"]')]);
  }

  async function onlineIn(page: Page, group: string): Promise<string | null> {
    await page.goto(demo.urls.console);
    return page.getAttribute(`tr[data-group="${group}"] td[data-online]`, 'data-online');
  }

  it('signs an admin in through the identity provider and shows both demo connectors online', async () => {
    const { page } = admin;
    await page.goto(demo.urls.console);
    assert.ok(page.url().startsWith(demo.urls.identityProvider), `on the provider's login page: ${page.url()}`);
    await signInAt(page, 'alice', 'alice-password');
    await page.waitForURL(demo.urls.console);
    assert.match((await page.textContent('#who')) ?? '', /alice@gatehouse\.test/);
    assert.equal(await onlineIn(page, DEMO_GROUP), '2');
    assert.equal(await page.textContent('#readiness'), 'Ready');
    await page.click('nav >> text=Connectors');
    assert.equal(await page.locator('tr[data-state="online"]').count(), 2);
    const { version } = JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8')) as { version: string };
    assert.equal(await page.textContent('tr[data-state="online"] td:nth-child(4)'), version, 'the version each connector runs');
    await screenshot(page, 'connectors');
  });

  it('revokes a connector: it goes offline, the app keeps working through the other; registered again, it is moved back', async () => {
    const { page } = admin;
    await page.goto(`${demo.urls.console}connectors`);
    const second = page.locator('tr[data-state="online"]', { hasText: 'demo-connector-2' });
    const id = await second.getAttribute('data-connector');
    assert.ok(id);
    await second.locator('button', { hasText: 'Revoke' }).click();
    await page.waitForSelector('#confirm');
    assert.match((await page.textContent('.confirm')) ?? '', new RegExp(`Revoke connector ${id}`));
    await screenshot(page, 'revoke-confirm');
    await Promise.all([page.waitForURL(/connectors\?done=revoke/), page.click('#confirm')]);
    assert.match((await page.textContent('#notice')) ?? '', /was revoked/);
    assert.equal(await page.getAttribute(`tr[data-connector="${id}"]`, 'data-state'), 'revoked');
    await screenshot(page, 'connector-revoked');
    assert.equal(await onlineIn(page, DEMO_GROUP), '1');

    const user = await fresh();
    await user.page.goto(`${demo.urls.wiki}/`);
    await signInAt(user.page, 'dana', 'dana-password');
    await user.page.waitForURL(`${demo.urls.wiki}/`);
    assert.match((await user.page.textContent('#user')) ?? '', /dana@gatehouse\.test/);
    await user.context.close();

    // Registered again without a group, it lands in "default", which serves none of the demo's apps.
    await demo.addConnector('demo-connector-2', 'default');
    await page.goto(`${demo.urls.console}connectors`);
    const again = page.locator('tr[data-state="online"]', { hasText: 'demo-connector-2' });
    const newId = await again.getAttribute('data-connector');
    assert.ok(newId && newId !== id);
    assert.equal(await onlineIn(page, 'default'), '1');
    await page.goto(`${demo.urls.console}connectors`);
    await again.locator('select[name="group"]').selectOption(DEMO_GROUP);
    await again.locator('button', { hasText: 'Move' }).click();
    await page.waitForSelector('#confirm');
    assert.match((await page.textContent('.confirm')) ?? '', new RegExp(`to group ${DEMO_GROUP}`));
    await screenshot(page, 'move-confirm');
    await Promise.all([page.waitForURL(/connectors\?done=move/), page.click('#confirm')]);
    assert.match((await page.textContent('#notice')) ?? '', new RegExp(`moved to group ${DEMO_GROUP}`));
    await page.waitForFunction(`document.querySelector('tr[data-connector="${newId}"]')?.dataset.state === 'online'`);
    assert.equal(await page.textContent(`tr[data-connector="${newId}"] td:nth-child(2)`), DEMO_GROUP);
    assert.equal(await onlineIn(page, DEMO_GROUP), '2');
  });

  it('answers "what if" for an app with the policy engine, in the words users read', async () => {
    const { page } = admin;
    await page.goto(`${demo.urls.console}apps`);
    const form = page.locator('#app-wiki form.whatif');
    await form.locator('input[name="user"]').fill('dana@gatehouse.test');
    await form.locator('input[name="groups"]').fill('staff');
    await form.locator('input[name="path"]').fill('/admin/');
    await Promise.all([page.waitForLoadState('load'), form.locator('button').click()]);
    assert.match((await page.textContent('#decision')) ?? '', /step-up/);
    assert.match((await page.textContent('#decision')) ?? '', /requires multi-factor authentication/);
    await screenshot(page, 'apps-what-if');
  });

  it('lists sign-ins and denials with their reasons and request ids, filtered, and one user’s activity', async () => {
    const mallory = await fresh();
    await mallory.page.goto(`${demo.urls.wiki}/`);
    await signInAt(mallory.page, 'mallory', 'mallory-password');
    assert.match((await mallory.page.textContent('body')) ?? '', /Access denied by policy/);
    await mallory.context.close();
    // A user name chosen to break the page: it must show as text, run nothing and add no element.
    const hostile = '"><img id=injected src=x onerror="window.pwned=1"><script>window.pwned=2</script>';
    demo.gateway.gateway.audit.emit({ type: 'signin.failed', outcome: 'failure', reason: hostile, user: { sub: hostile, email: hostile }, app: 'wiki' });
    const { page } = admin;
    await page.goto(`${demo.urls.console}events?kind=signins`);
    assert.equal(await page.locator('#injected').count(), 0);
    assert.equal(await page.evaluate('typeof window.pwned'), 'undefined');
    assert.ok(((await page.locator('tr[data-type="signin.failed"] a.user').first().textContent()) ?? '').includes('<img id=injected'));
    await page.goto(`${demo.urls.console}events?kind=denials&outcome=failure`);
    const denied = page.locator('tr[data-type="access.denied"]').first();
    assert.match((await denied.textContent()) ?? '', /mallory@gatehouse\.test/);
    assert.match((await denied.locator('td.reason').textContent()) ?? '', /ERR_POLICY_DENIED|grant\.block/);
    assert.equal(await denied.locator('a code').count(), 1, 'its request id');
    await screenshot(page, 'sign-ins-and-denials');
    await Promise.all([page.waitForLoadState('load'), denied.locator('a.user').click()]);
    assert.match((await page.textContent('#activity-of')) ?? '', /user-mallory/);
    assert.ok((await page.locator('tbody tr').count()) >= 2, 'her sign-in and the denial');
  });

  it('shows a signed-in user who is not an admin a 403 page', async () => {
    const bob = await fresh();
    await bob.page.goto(demo.urls.console);
    await signInAt(bob.page, 'bob', 'bob-password');
    const response = await bob.page.goto(demo.urls.console);
    assert.equal(response?.status(), 403);
    assert.match((await bob.page.textContent('h1')) ?? '', /Not an administrator/);
    assert.equal(await bob.page.locator('nav').count(), 0);
    await screenshot(bob.page, 'not-an-admin');
    // Signed in, with a CSRF token of his own (the sign-out form's), he still cannot change anything.
    const csrf = await bob.page.getAttribute('form.who input[name="csrf"]', 'value');
    const cookie = (await bob.context.cookies(demo.urls.console)).map((each) => `${each.name}=${each.value}`).join('; ');
    const origin = new URL(demo.urls.console).origin;
    await admin.page.goto(`${demo.urls.console}connectors`);
    const id = await admin.page.locator('tr[data-state="online"]').first().getAttribute('data-connector');
    const answer = await post(`${origin}/.gatehouse/admin/connectors/revoke`, `id=${id}&csrf=${csrf}`, { cookie, origin });
    assert.equal(answer.status, 403);
    assert.match(answer.body, /not_admin/);
    await bob.context.close();
  });

  it('refuses a form post without the CSRF token, with a wrong one, or from another origin', async () => {
    const cookies = await admin.context.cookies(demo.urls.console);
    const cookie = cookies.map((each) => `${each.name}=${each.value}`).join('; ');
    await admin.page.goto(`${demo.urls.console}connectors`);
    const id = await admin.page.locator('tr[data-state="online"]').first().getAttribute('data-connector');
    const csrf = await admin.page.getAttribute('form.who input[name="csrf"]', 'value');
    assert.ok(id && csrf);
    const origin = new URL(demo.urls.console).origin;
    const attempts: Array<[string, Record<string, string>]> = [
      [`id=${id}`, { origin }],
      [`id=${id}&csrf=forged-token-forged-token-0000`, { origin }],
      [`id=${id}&csrf=${csrf}`, { origin: 'https://evil.example' }],
      [`id=${id}&csrf=${csrf}`, { 'sec-fetch-site': 'cross-site' }],
    ];
    for (const [body, headers] of attempts) {
      const answer = await post(`${origin}/.gatehouse/admin/connectors/revoke`, body, { cookie, ...headers });
      assert.equal(answer.status, 403, body);
      assert.match(answer.body, /refused this change/);
    }
    assert.equal(await onlineIn(admin.page, DEMO_GROUP), '2', 'nothing was revoked');
    // Last: by now the sparklines have a few samples of the traffic the other steps made.
    await screenshot(admin.page, 'overview');
  });

  it('refuses a forged callback, and a sign-in started under another Host name gets no code from the provider', async () => {
    const origin = new URL(demo.urls.console).origin;
    const forged = await get(`${origin}/.gatehouse/admin/callback?code=made-up&state=made-up-state-0123456789`, {});
    assert.equal(forged.status, 400);
    assert.match(forged.body, /Sign-in failed/);
    assert.doesNotMatch(forged.headers['set-cookie']?.join(' ') ?? '', /gh-admin=/);

    const started = await get(`${origin}/.gatehouse/admin/signin`, { host: 'evil.example' });
    assert.equal(started.status, 302);
    const authorization = new URL(started.headers.location ?? '');
    assert.equal(authorization.searchParams.get('redirect_uri'), 'https://evil.example/.gatehouse/admin/callback');
    const { page } = await fresh();
    const answer = await page.goto(authorization.href);
    assert.equal(answer?.status(), 400);
    assert.match((await page.textContent('body')) ?? '', /redirect_uri/);
    await page.context().close();
  });

  it('audits console sign-ins, actions and refusals, and signs out', async () => {
    const { page } = admin;
    await page.goto(`${demo.urls.console}events?kind=console`);
    const rows = page.locator('tbody tr');
    const types: string[] = [];
    for (let index = 0; index < (await rows.count()); index += 1) {
      types.push(`${await rows.nth(index).getAttribute('data-type')} ${await rows.nth(index).getAttribute('class')}`);
    }
    for (const expected of ['admin.console_signin success', 'admin.console_signin failure', 'admin.console_action success', 'admin.console_refused failure']) {
      assert.ok(types.includes(expected), `${expected} in ${types.join(', ')}`);
    }
    await Promise.all([page.waitForLoadState('load'), page.click('form.who button')]);
    assert.match((await page.textContent('h1')) ?? '', /Signed out/);
    const left = (await admin.context.cookies(demo.urls.console)).filter((cookie) => cookie.name.endsWith('gh-admin'));
    assert.deepEqual(left, [], 'the console cookie is gone');
  });

  function get(url: string, headers: Record<string, string>): Promise<{ status: number; body: string; headers: IncomingHttpHeaders }> {
    return new Promise((resolve, reject) => {
      const req = request(url, { ca: readFileSync(demo.caFile), servername: 'localhost', headers }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  function post(url: string, body: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        { method: 'POST', ca: readFileSync(demo.caFile), headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }
});

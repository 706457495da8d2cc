import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Demo } from '../../dev/demo/demo-stack.ts';
import { sharedOriginWarnings } from '../../src/config/shared-origin-warnings.ts';
import { launchChromium, startDemoOnFreePorts } from './browser-demo.ts';

const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'browser');

/**
 * The demo that `npm start` runs, driven by a real headless Chromium: sign-in,
 * denial by policy, step-up, WebSocket, upload and download, logout, robots.
 * Screenshots of each step are kept in test-artifacts/browser/.
 */
describe('in a real browser: the demo stack', function () {
  this.timeout(120_000);
  let demo: Demo;
  let browser: Browser;
  let dir: string;
  let shot = 0;

  before(async function () {
    rmSync(ARTIFACTS, { recursive: true, force: true });
    mkdirSync(ARTIFACTS, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-browser-'));
    // Chromium first: without it, the test stops before starting anything.
    browser = await launchChromium();
    demo = await startDemoOnFreePorts(dir);
  });
  after(async () => {
    await browser?.close();
    await demo?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function fresh(): Promise<{ context: BrowserContext; page: Page }> {
    // The demo's certificates come from its own CA; the test trusts them the way a user who imported it would.
    const context = await browser.newContext({ ignoreHTTPSErrors: true, acceptDownloads: true });
    return { context, page: await context.newPage() };
  }

  async function screenshot(page: Page, name: string): Promise<void> {
    shot += 1;
    await page.screenshot({ path: join(ARTIFACTS, `${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true });
  }

  async function signInAt(page: Page, login: string, password: string, code?: string): Promise<void> {
    await page.waitForSelector('input[name="login"]');
    await page.fill('input[name="login"]', login);
    await page.fill('input[name="password"]', password);
    if (code !== undefined) await page.fill('input[name="otp"]', code);
    await Promise.all([page.waitForLoadState('load'), page.click('button[type="submit"]')]);
  }

  it('signs a user in at the identity provider and shows the internal app with their identity', async () => {
    const { context, page } = await fresh();
    await page.goto(`${demo.urls.wiki}/`);
    assert.ok(page.url().startsWith(demo.urls.identityProvider), `on the provider's login page: ${page.url()}`);
    await screenshot(page, 'login-page');
    await signInAt(page, 'alice', 'alice-password');
    await page.waitForURL(`${demo.urls.wiki}/`);
    assert.match((await page.textContent('#user')) ?? '', /alice@gatehouse\.test/);
    assert.match((await page.textContent('#assertion')) ?? '', /Verified/);
    assert.match((await page.textContent('#gatehouse-cookie')) ?? '', /did not reach/);
    await screenshot(page, 'signed-in');
    await context.close();
  });

  it('tells a user who is not assigned that policy denied access, and why', async () => {
    const { context, page } = await fresh();
    await page.goto(`${demo.urls.wiki}/`);
    await signInAt(page, 'mallory', 'mallory-password');
    const text = await page.textContent('body');
    assert.match(text ?? '', /Access denied by policy/);
    assert.match(text ?? '', /not allowed to use this application/);
    await screenshot(page, 'denied-by-policy');
    await context.close();
  });

  it('asks for MFA on the admin area: step-up succeeds with a second factor and fails without', async () => {
    const dana = await fresh();
    await dana.page.goto(`${demo.urls.wiki}/`);
    await signInAt(dana.page, 'dana', 'dana-password');
    await dana.page.waitForURL(`${demo.urls.wiki}/`);
    await dana.page.goto(`${demo.urls.wiki}/admin/`);
    assert.match((await dana.page.textContent('body')) ?? '', /required by this application/);
    await screenshot(dana.page, 'step-up-asks-for-code');
    await signInAt(dana.page, 'dana', 'dana-password', '123456');
    await dana.page.waitForURL(`${demo.urls.wiki}/admin/`);
    assert.match((await dana.page.textContent('h1')) ?? '', /Admin area/);
    await screenshot(dana.page, 'step-up-succeeded');
    await dana.context.close();

    const bob = await fresh();
    await bob.page.goto(`${demo.urls.wiki}/admin/`);
    await signInAt(bob.page, 'bob', 'bob-password');
    await signInAt(bob.page, 'bob', 'bob-password');
    const text = await bob.page.textContent('body');
    assert.match(text ?? '', /Sign-in not strong enough/);
    assert.match(text ?? '', /multi-factor authentication/);
    await screenshot(bob.page, 'step-up-denied');
    await bob.context.close();
  });

  it('echoes over a WebSocket, uploads and downloads through the tunnel', async () => {
    const { context, page } = await fresh();
    await page.goto(`${demo.urls.wiki}/websocket`);
    await signInAt(page, 'alice', 'alice-password');
    await page.waitForURL(`${demo.urls.wiki}/websocket`);
    await page.waitForFunction("document.getElementById('status')?.textContent === 'open'");
    await page.click('#send');
    await page.waitForFunction("(document.getElementById('log')?.textContent ?? '').includes('echo: hello through the tunnel')");
    await screenshot(page, 'websocket-echo');

    await page.goto(`${demo.urls.wiki}/transfer`);
    await page.setInputFiles('#file', { name: 'upload.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(3 * 1024 * 1024, 7) });
    await Promise.all([page.waitForURL(`${demo.urls.wiki}/upload`), page.click('#upload-form button')]);
    assert.ok(Number(await page.textContent('#bytes')) > 3 * 1024 * 1024);
    await screenshot(page, 'uploaded');

    await page.goto(`${demo.urls.wiki}/transfer`);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    const saved = join(dir, 'download.bin');
    await download.saveAs(saved);
    assert.equal(statSync(saved).size, 8 * 1024 * 1024);
    await context.close();
  });

  it('logs out for real: the app asks for sign-in again', async () => {
    const { context, page } = await fresh();
    await page.goto(`${demo.urls.wiki}/`);
    await signInAt(page, 'alice', 'alice-password');
    await page.waitForURL(`${demo.urls.wiki}/`);
    await page.click('text=Sign out');
    await page.waitForLoadState('load');
    // The provider asks to confirm its own sign-out (RP-initiated logout).
    const confirm = page.locator('button[type="submit"]');
    if (page.url().startsWith(demo.urls.identityProvider) && (await confirm.count()) > 0) {
      await Promise.all([page.waitForLoadState('load'), confirm.first().click()]);
    }
    await page.waitForURL(`${demo.urls.wiki}/.gatehouse/signed-out`);
    assert.match((await page.textContent('h1')) ?? '', /signed out/i);
    await screenshot(page, 'signed-out');
    await page.goto(`${demo.urls.wiki}/`);
    assert.ok(page.url().startsWith(demo.urls.identityProvider), 'sent to sign in again');
    await page.waitForSelector('input[name="password"]');
    await screenshot(page, 'sign-in-again');
    await context.close();
  });

  it('publishes its pass-through page from a backend of its own: nothing protected is reachable through it', async () => {
    assert.deepEqual(sharedOriginWarnings(demo.gateway.gateway.config), []);
    const { context, page } = await fresh();
    await context.setExtraHTTPHeaders({ 'X-Remote-User': 'alice@gatehouse.test', 'X-Remote-Groups': 'staff,admins' });
    const response = await page.goto(`${demo.urls.status}/admin/`);
    assert.equal(response?.status(), 200);
    assert.match(await page.content(), /All systems normal/);
    assert.doesNotMatch(await page.content(), /alice@gatehouse\.test/);
    await context.close();
  });

  it('answers robots.txt with the disallow-all text', async () => {
    const { context, page } = await fresh();
    const response = await page.goto(`${demo.urls.status}/robots.txt`);
    assert.equal(response?.status(), 200);
    assert.equal(await response?.text(), 'User-agent: *\nDisallow: /\n');
    assert.equal(response?.headers()['x-robots-tag'], 'noindex, nofollow');
    await context.close();
  });
});

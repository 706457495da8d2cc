import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { createDevCa } from '../../dev/lib/dev-ca.ts';
import type { DevCa } from '../../dev/lib/dev-ca.ts';
import { BrowserClient, RedirectLimitError, parseForms } from '../../dev/lib/browser-client.ts';

interface Echo {
  method: string;
  path: string;
  servername: string | false | null;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function handler(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://placeholder');
  const body = await readBody(req);
  const redirect = (status: number, location: string): void => {
    res.writeHead(status, { location }).end();
  };
  switch (url.pathname) {
    case '/loop':
      redirect(302, '/loop');
      return;
    case '/see-other':
      redirect(303, '/echo');
      return;
    case '/temporary':
      redirect(307, '/echo');
      return;
    case '/found':
      redirect(302, '/echo');
      return;
    case '/to-other-site':
      redirect(302, `https://other.test:${url.searchParams.get('port') ?? ''}/echo`);
      return;
    case '/set':
      res
        .writeHead(200, {
          'set-cookie': [
            'strict=1; Path=/; Secure; SameSite=Strict',
            'lax=1; Path=/; Secure; SameSite=Lax',
            'none=1; Path=/; Secure; SameSite=None',
            'insecure=1; Path=/',
            'scoped=1; Path=/echo/deeper',
            '__Host-good=1; Path=/; Secure',
            '__Host-bad=1; Path=/',
            '__Secure-bad=1; Path=/',
            'gone=1; Path=/',
          ],
        })
        .end('set');
      return;
    case '/expire':
      res.writeHead(200, { 'set-cookie': 'gone=; Path=/; Max-Age=0' }).end('expired');
      return;
    case '/form-post':
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(`<!DOCTYPE html>
<html><head><script>document.addEventListener('DOMContentLoaded', function () { document.forms[0].submit() });</script></head>
<body><form method="post" action="/echo"><input type="hidden" name="code" value="a&amp;b"/></form></body></html>`);
      return;
    default: {
      const echo: Echo = {
        method: req.method ?? '',
        path: `${url.pathname}${url.search}`,
        servername: (req.socket as Partial<TLSSocket>).servername ?? null,
        headers: req.headers,
        body,
      };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(echo));
    }
  }
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function stop(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function cookieNames(echo: Echo): string[] {
  const header = echo.headers['cookie'];
  if (typeof header !== 'string') return [];
  return header
    .split(/;\s*/)
    .map((pair) => pair.split('=')[0] ?? '')
    .sort();
}

describe('BrowserClient', function () {
  let ca: DevCa;
  let https: Server;
  let http: Server;
  let httpsPort: number;
  let httpPort: number;
  let wiki: string;
  const clients: BrowserClient[] = [];

  function client(): BrowserClient {
    const created = new BrowserClient({ ca: ca.certPem });
    clients.push(created);
    return created;
  }

  async function echoOf(response: { json(): Promise<unknown> }): Promise<Echo> {
    return (await response.json()) as Echo;
  }

  before(async function () {
    ca = createDevCa();
    const cert = ca.issueServerCertificate(['wiki.gatehouse.test', 'other.test']);
    https = createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, handler);
    http = createHttpServer(handler);
    httpsPort = await listen(https);
    httpPort = await listen(http);
    wiki = `https://wiki.gatehouse.test:${httpsPort}`;
  });

  after(async function () {
    await Promise.all(clients.map((created) => created.close()));
    await Promise.all([stop(https), stop(http)]);
  });

  it('resolves every hostname to 127.0.0.1, sends SNI and checks the certificate against the URL host', async function () {
    const browser = client();
    const echo = await echoOf(await browser.request(`${wiki}/echo`));
    assert.equal(echo.servername, 'wiki.gatehouse.test');
    assert.equal(echo.headers['host'], `wiki.gatehouse.test:${httpsPort}`);
    await assert.rejects(browser.request(`https://not-in-cert.test:${httpsPort}/echo`), /altnames|certificate/i);
  });

  it('sends navigation headers on navigations only', async function () {
    const browser = client();
    const navigation = await echoOf((await browser.navigate(`${wiki}/echo`)).response);
    assert.equal(navigation.headers['sec-fetch-mode'], 'navigate');
    assert.equal(navigation.headers['sec-fetch-dest'], 'document');
    assert.equal(navigation.headers['sec-fetch-site'], 'none');
    assert.match(String(navigation.headers['accept']), /^text\/html/);

    const plain = await echoOf(await browser.request(`${wiki}/echo`, { headers: { accept: 'application/json' } }));
    assert.equal(plain.headers['sec-fetch-mode'], undefined);
    assert.equal(plain.headers['accept'], 'application/json');
  });

  it('follows redirects like a browser: 303 and 302 turn POST into GET, 307 keeps it', async function () {
    const browser = client();
    const form = (path: string): string => `<form method="post" action="${path}"><input type="hidden" name="x" value="1"></form>`;
    const seeOther = await echoOf((await browser.submitForm(form('/see-other'), `${wiki}/page`, {})).response);
    assert.deepEqual([seeOther.method, seeOther.body], ['GET', '']);
    const found = await echoOf((await browser.submitForm(form('/found'), `${wiki}/page`, {})).response);
    assert.equal(found.method, 'GET');
    const temporary = await browser.submitForm(form('/temporary'), `${wiki}/page`, { y: '2' });
    const kept = await echoOf(temporary.response);
    assert.deepEqual([kept.method, kept.body], ['POST', 'x=1&y=2']);
    assert.equal(kept.headers['origin'], wiki);
    assert.deepEqual(temporary.chain, [`${wiki}/temporary`, `${wiki}/echo`]);
  });

  it('gives up on redirect loops with the chain in the error', async function () {
    const browser = client();
    await assert.rejects(browser.navigate(`${wiki}/loop`, { maxRedirects: 5 }), (error: unknown) => {
      assert.ok(error instanceof RedirectLimitError);
      assert.equal(error.chain.length, 7);
      assert.match(error.message, /5 redirects/);
      return true;
    });
    await assert.rejects(browser.navigate(`${wiki}/loop`), (error: unknown) => error instanceof RedirectLimitError && error.chain.length === 22);
  });

  it('stops before requesting a URL that stopAt selects', async function () {
    const browser = client();
    const { response, chain } = await browser.navigate(`${wiki}/see-other`, { stopAt: (url) => url.pathname === '/echo' });
    assert.equal(response.status, 303);
    assert.deepEqual(chain, [`${wiki}/see-other`, `${wiki}/echo`]);
  });

  it('keeps cookies by Secure, prefix, Path and Max-Age rules', async function () {
    const browser = client();
    const set = await browser.request(`${wiki}/set`);
    assert.equal(set.setCookies.length, 9);
    assert.deepEqual(cookieNames(await echoOf(await browser.request(`${wiki}/echo`))), ['__Host-good', 'gone', 'insecure', 'lax', 'none', 'strict']);
    assert.ok(cookieNames(await echoOf(await browser.request(`${wiki}/echo/deeper/x`))).includes('scoped'));

    await browser.request(`${wiki}/expire`);
    assert.ok(!cookieNames(await echoOf(await browser.request(`${wiki}/echo`))).includes('gone'));

    // Same host over plain HTTP: Secure cookies stay behind.
    const overHttp = await echoOf(await browser.request(`http://wiki.gatehouse.test:${httpPort}/echo`));
    assert.deepEqual(cookieNames(overHttp), ['insecure']);
  });

  it('applies SameSite to cross-site navigations and form posts', async function () {
    const browser = client();
    await browser.request(`${wiki}/set`);
    const crossSiteGet = await echoOf((await browser.navigate(`${wiki}/echo`, { initiator: 'https://evil.test/page' })).response);
    assert.equal(crossSiteGet.headers['sec-fetch-site'], 'cross-site');
    assert.equal(crossSiteGet.headers['referer'], 'https://evil.test/');
    assert.deepEqual(cookieNames(crossSiteGet), ['__Host-good', 'gone', 'insecure', 'lax', 'none']);

    const evilForm = `<form method="post" action="${wiki}/echo"><input type="hidden" name="a" value="b"></form>`;
    const crossSitePost = await echoOf((await browser.submitForm(evilForm, 'https://evil.test/page', {})).response);
    assert.equal(crossSitePost.headers['origin'], 'https://evil.test');
    assert.deepEqual(cookieNames(crossSitePost), ['__Host-good', 'gone', 'insecure', 'none']);

    // A redirect through another site makes the rest of the chain cross-site.
    const bounced = await browser.navigate(`${wiki}/to-other-site?port=${httpsPort}`);
    assert.equal((await echoOf(bounced.response)).headers['host'], `other.test:${httpsPort}`);
  });

  it('parses forms: entities, hidden inputs, form= owners, checkboxes, selects, textareas', function () {
    const html = `<!-- <form action="/commented"></form> -->
<form id="f" method="POST" action="/submit?a=1&amp;b=2">
  <input type="hidden" name="csrf" value="&quot;x&#39;y&lt;z&gt;&amp;&#x41;">
  <input name="text" value='single "quoted"'>
  <input type="password" name="pw">
  <input type="checkbox" name="unchecked" value="no">
  <input type="checkbox" name="checked" checked>
  <input type="submit" name="go" value="Go">
  <input type="text" name="off" value="x" disabled>
  <select name="pick"><option value="1">One</option><option value="2" selected>Two</option></select>
  <textarea name="notes">line &amp; more</textarea>
</form>
<input type="hidden" name="outside" value="owned" form="f">
<form action="search"><input name="q" value="v"></form>`;
    const [first, second, ...rest] = parseForms(html, 'https://app.test/dir/page');
    assert.equal(rest.length, 0);
    assert.ok(first && second);
    assert.equal(first.action, 'https://app.test/submit?a=1&b=2');
    assert.equal(first.method, 'POST');
    assert.deepEqual(first.passwordFields, ['pw']);
    assert.deepEqual(
      first.fields.map(({ name, value }) => [name, value]),
      [
        ['csrf', '"x\'y<z>&A'],
        ['text', 'single "quoted"'],
        ['pw', ''],
        ['checked', 'on'],
        ['pick', '2'],
        ['notes', 'line & more'],
        ['outside', 'owned'],
      ],
    );
    assert.equal(second.action, 'https://app.test/dir/search');
    assert.equal(second.method, 'GET');
  });

  it('submits GET forms in the query and self-submitting form_post pages on its own', async function () {
    const browser = client();
    const search = await browser.submitForm('<form action="/echo"><input name="q" value="old"></form>', `${wiki}/page`, { q: 'a b' });
    assert.equal((await echoOf(search.response)).path, '/echo?q=a+b');

    const posted = await browser.navigate(`${wiki}/form-post`);
    const echo = await echoOf(posted.response);
    assert.deepEqual([echo.method, echo.body], ['POST', 'code=a%26b']);
    assert.deepEqual(posted.chain, [`${wiki}/form-post`, `${wiki}/echo`]);
  });
});

import assert from 'node:assert/strict';
import { signIn, startStack, type Stack } from '../support/stack.ts';

describe('attack: open redirect through the return URL', function () {
  this.timeout(30_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack.close();
  });
  beforeEach(() => stack.audit.clear());

  const hostile = [
    '//evil.example',
    '//evil.example/%2F..',
    '/\\evil.example',
    '\\/evil.example',
    '%2F%2Fevil.example',
    '/%2F%2Fevil.example',
    'https:evil.example',
    'https://evil.example/',
    'javascript:alert(document.domain)',
    '/ok\r\nSet-Cookie: injected=1',
    '/ok%0d%0aSet-Cookie:%20injected=1',
    '/ok\nLocation: https://evil.example',
  ];

  for (const rd of hostile) {
    it(`refuses rd=${JSON.stringify(rd)} with an explained error and an audit event`, async () => {
      const browser = stack.browser();
      const response = await browser.request(`${stack.urls.wiki}/.gatehouse/signin?rd=${encodeURIComponent(rd)}`, { navigate: true });
      assert.equal(response.status, 400);
      assert.equal(response.headers.get('location'), null);
      assert.match(await response.text(), /Code: ERR_RETURN_URL_REFUSED/);
      assert.equal(stack.audit.ofType('signin.failed').at(-1)?.reason, 'unsafe_return_url');
      assert.equal(stack.audit.ofType('signin.started').length, 0);
    });
  }

  it('refuses another app of the same gateway as a return URL', async () => {
    const response = await stack.browser().request(`${stack.urls.wiki}/.gatehouse/signin?rd=${encodeURIComponent(`${stack.urls.other}/`)}`, { navigate: true });
    assert.equal(response.status, 400);
  });

  it('does not carry a protocol-relative request path into the return URL', async () => {
    const browser = stack.browser();
    const response = await browser.request(`${stack.urls.wiki}//evil.example/path`, { navigate: true });
    assert.equal(response.status, 302);
    const location = new URL(response.headers.get('location')!);
    assert.equal(location.origin, stack.urls.wiki);
    assert.equal(location.searchParams.get('rd'), '/');
  });

  it('returns to a same-origin absolute URL as a path', async () => {
    const browser = stack.browser();
    const bob = stack.idp.users.find((user) => user.login === 'bob')!;
    const { response, chain } = await browser.navigate(`${stack.urls.wiki}/.gatehouse/signin?rd=${encodeURIComponent(`${stack.urls.wiki}/deep/link?q=1`)}`);
    const done = await browser.submitForm(response, response.url, { login: bob.login, password: bob.password });
    assert.equal(done.chain.at(-1), `${stack.urls.wiki}/deep/link?q=1`);
    assert.ok(chain.length > 0);
  });

  it('keeps a signed-in user on the same origin too', async () => {
    const browser = stack.browser();
    await signIn(stack, browser, 'bob');
    const response = await browser.request(`${stack.urls.wiki}/.gatehouse/signin?rd=${encodeURIComponent('//evil.example')}`, { navigate: true });
    assert.equal(response.status, 400);
    const fine = await browser.request(`${stack.urls.wiki}/.gatehouse/signin?rd=${encodeURIComponent('/here')}`, { navigate: true });
    assert.equal(fine.status, 302);
    assert.equal(fine.headers.get('location'), `${stack.urls.wiki}/here`);
  });
});

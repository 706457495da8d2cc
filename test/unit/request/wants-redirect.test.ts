import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { prefersHtml, wantsRedirect } from '../../../src/request/wants-redirect.ts';

function request(method: string, headers: Record<string, string>): IncomingMessage {
  return { method, headers } as unknown as IncomingMessage;
}

describe('wantsRedirect', () => {
  it('redirects top-level navigations only', () => {
    assert.equal(wantsRedirect(request('GET', { 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' })), true);
    assert.equal(wantsRedirect(request('GET', { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' })), true);
    assert.equal(wantsRedirect(request('HEAD', { accept: 'text/html' })), true);
  });

  it('answers 401 to APIs, XHR, fetch, upgrades and non-GET', () => {
    assert.equal(wantsRedirect(request('GET', { accept: '*/*' })), false);
    assert.equal(wantsRedirect(request('GET', {})), false);
    assert.equal(wantsRedirect(request('GET', { accept: 'application/json' })), false);
    assert.equal(wantsRedirect(request('GET', { accept: 'text/html', 'x-requested-with': 'XMLHttpRequest' })), false);
    assert.equal(wantsRedirect(request('GET', { 'sec-fetch-mode': 'cors', 'sec-fetch-dest': 'empty', accept: 'text/html' })), false);
    assert.equal(wantsRedirect(request('GET', { accept: 'text/html', upgrade: 'websocket' })), false);
    assert.equal(wantsRedirect(request('POST', { 'sec-fetch-mode': 'navigate', accept: 'text/html' })), false);
  });

  it('weighs quality values', () => {
    assert.equal(prefersHtml('application/json, text/html;q=0.5'), false);
    assert.equal(prefersHtml('text/html;q=0.9, application/json;q=0.9'), true);
    assert.equal(prefersHtml('text/html;q=0'), false);
  });
});

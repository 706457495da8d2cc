import assert from 'node:assert/strict';
import type { AuditEvent } from '../../../src/audit/events.ts';
import type { ConnectorView } from '../../../src/admin/console/connector-view.ts';
import type { ConsoleSession } from '../../../src/admin/console/console-session.ts';
import { readFilters } from '../../../src/admin/console/event-filter.ts';
import { escapeHtml, html } from '../../../src/admin/console/html.ts';
import { shell } from '../../../src/admin/console/layout.ts';
import { appsBody } from '../../../src/admin/console/pages/apps-page.ts';
import { confirmBody, connectorsBody } from '../../../src/admin/console/pages/connectors-page.ts';
import { eventsBody } from '../../../src/admin/console/pages/events-page.ts';
import { forbiddenPage } from '../../../src/admin/console/pages/message-page.ts';
import { readWhatIf, whatIf } from '../../../src/admin/console/what-if.ts';
import { parseGatewayConfig } from '../../../src/config/parse.ts';

/** Strings that break out of text, of a quoted attribute, or start a script, each tried everywhere data lands. */
const HOSTILE = [
  '<script>window.pwned=1</script>',
  '"><img src=x onerror=alert(1)>',
  "' onmouseover='alert(1)",
  '</td></tr><iframe src=//evil.example>',
  '`${alert(1)}`<svg onload=alert(1)>',
  '&lt;script&gt; already escaped',
];

const ALLOWED_TAGS = new Set(
  'html head meta title link body header span nav a form input button main h1 h2 h3 p code section table thead tbody tr th td ul ol li strong dl dt dd label select option br div svg rect polyline'.split(
    ' ',
  ),
);

/**
 * Reads the markup as a browser's tokenizer would (tags, attribute names, quoted values) and returns every
 * tag and attribute found. An escaped quote cannot end a quoted value here, as it cannot in a browser.
 */
function tagsOf(markup: string): Array<{ tag: string; attributes: string[] }> {
  const tags: Array<{ tag: string; attributes: string[] }> = [];
  const tag = /<\/?([a-zA-Z][\w-]*)((?:\s+[^\s=>/]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+))?)*)\s*\/?>/g;
  for (const match of markup.matchAll(tag)) {
    const attributes = [...(match[2] ?? '').matchAll(/\s+([^\s=>/]+)(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+))?/g)].map((each) => (each[1] ?? '').toLowerCase());
    tags.push({ tag: (match[1] ?? '').toLowerCase(), attributes });
  }
  return tags;
}

function assertInert(markup: string): void {
  for (const { tag, attributes } of tagsOf(markup)) {
    assert.ok(ALLOWED_TAGS.has(tag), `unexpected <${tag}> in:\n${markup}`);
    for (const attribute of attributes)
      assert.ok(!attribute.startsWith('on') && attribute !== 'style' && attribute !== 'srcdoc', `attribute ${attribute} on <${tag}>`);
  }
  // Text between tags: no raw '<' that a tokenizer would take for the start of a tag it did not list above.
  assert.doesNotMatch(markup.replace(/^<!doctype html>/, '').replace(/<\/?[a-zA-Z][^>]*>/g, ''), /<[a-zA-Z!/?]/);
  assert.ok(!markup.includes('<script') && !markup.includes('<img') && !markup.includes('<iframe'));
}

const session = (value: string): ConsoleSession => ({ v: 1, k: 'admin-console', sub: value, name: value, email: value, admin: true, csrf: 'c'.repeat(32) });

function event(value: string, index: number): AuditEvent {
  return {
    id: `e-${index}`,
    time: '2026-01-01T00:00:00.000Z',
    type: 'access.denied',
    outcome: 'failure',
    reason: value,
    user: { sub: value, name: value, email: value },
    app: value,
    clientIp: value,
    userAgent: value,
    requestId: value,
    details: { note: value },
  };
}

function connector(value: string): ConnectorView {
  return {
    id: value,
    name: value,
    group: value,
    revoked: false,
    connected: true,
    online: true,
    tunnels: 2,
    streamsInFlight: 0,
    address: value,
    client: value,
    version: value,
    lastSeen: '2026-01-01T00:00:00.000Z',
    registeredAt: 0,
    certificateIssuedAt: Date.parse('2026-01-01T00:00:00Z') / 1000,
    certificateNotBefore: '2026-01-01T00:00:00.000Z',
    certificateNotAfter: '2026-04-01T00:00:00.000Z',
    certificateFingerprint256: value,
    renewalDue: false,
  };
}

describe('admin console: what the pages render from data is text, never markup', () => {
  it('escapes the five characters that end text or a quoted attribute, and the backtick', () => {
    assert.equal(escapeHtml(`<a href="x" title='y'>&\``), '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&#96;');
    assert.equal(html`<p>${'<b>'}</p>`.text, '<p>&lt;b&gt;</p>');
  });

  it('audit events with hostile user names, apps, reasons and request ids stay inert on the sign-ins page', () => {
    const filters = readFilters(new URLSearchParams({ user: HOSTILE[1]!, reason: HOSTILE[2]!, request: HOSTILE[0]!, kind: HOSTILE[3]! }));
    assert.equal(filters.kind, 'all', 'an unknown kind is no kind');
    for (const value of HOSTILE) {
      const markup = shell('Sign-ins and denials', eventsBody([event(value, 1)], filters, [value], true), session(value)).text;
      assertInert(markup);
      assert.ok(markup.includes(escapeHtml(value)), 'shown, escaped');
    }
  });

  it('hostile connector ids, names, groups and addresses stay inert on the connectors and confirmation pages', () => {
    for (const value of HOSTILE) {
      assertInert(connectorsBody([connector(value)], ['default', value], Date.parse('2026-02-01T00:00:00Z'), `Connector ${value} was revoked.`).text);
      assertInert(confirmBody('move', connector(value), 'c'.repeat(32), value).text);
      assertInert(forbiddenPage(session(value), value).text);
    }
  });

  it('hostile app ids, policy names and "what if" input stay inert on the apps page', () => {
    for (const value of HOSTILE) {
      const config = parseGatewayConfig({
        server: { port: 8443 },
        identityProvider: { issuer: 'https://idp.example.com', clientId: 'gatehouse', clientSecret: 'secret' },
        session: { secrets: [{ id: 1, secret: 'x'.repeat(40) }] },
        apps: [
          {
            id: 'wiki',
            externalUrl: 'https://wiki.example.com',
            internalUrl: 'http://127.0.0.1:8080',
            policies: [{ name: value, conditions: { groups: { exclude: [value] } }, grant: { block: true } }],
          },
        ],
      });
      const app = config.apps[0]!;
      const input = readWhatIf(new URLSearchParams({ user: value, groups: value, ip: value, path: value }));
      assert.ok(input);
      const asked = { app: app.id, input, answer: whatIf(app, config, input, Date.parse('2026-01-01T00:00:00Z')) };
      assertInert(appsBody(config.apps, [connector(value)], asked).text);
    }
  });

  it('the inertness check itself catches a value rendered without escaping', () => {
    assert.throws(() => assertInert(`<p>${HOSTILE[0]!}</p>`));
    assert.throws(() => assertInert(`<p title="${HOSTILE[1]!}">x</p>`));
    assert.throws(() => assertInert(`<p title='${HOSTILE[2]!}'>x</p>`));
  });
});

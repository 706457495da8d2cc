import assert from 'node:assert/strict';
import {
  describeProxySettings,
  parseNoProxy,
  parseProxyUrl,
  redactProxyUrl,
  resolveProxySettings,
  shouldProxy,
  type OutboundProxySettings,
} from '../../../src/connector/proxy-settings.ts';
import { ConnectorArgumentError } from '../../../src/errors/connector-error.ts';

function settings(noProxy: string): OutboundProxySettings {
  return resolveProxySettings({ env: { HTTPS_PROXY: 'http://proxy.corp:3128', NO_PROXY: noProxy } });
}

describe('outbound proxy settings', function () {
  describe('parseProxyUrl', function () {
    it('reads scheme, host and port, with the scheme and port defaults', function () {
      assert.deepEqual(
        { ...parseProxyUrl('http://proxy.corp:3128', '--proxy') },
        { protocol: 'http:', host: 'proxy.corp', port: 3128, authorization: undefined, display: 'http://proxy.corp:3128' },
      );
      assert.equal(parseProxyUrl('proxy.corp:8080', 'HTTPS_PROXY').protocol, 'http:', 'no scheme: http, as curl');
      assert.equal(parseProxyUrl('http://proxy.corp', 'HTTPS_PROXY').port, 80);
      const tls = parseProxyUrl('https://proxy.corp', 'HTTPS_PROXY');
      assert.equal(tls.protocol, 'https:');
      assert.equal(tls.port, 443);
      assert.equal(tls.display, 'https://proxy.corp:443');
      assert.equal(parseProxyUrl('http://[::1]:3128', '--proxy').host, '::1');
      assert.equal(parseProxyUrl('http://proxy.corp:3128/', '--proxy').port, 3128, 'a trailing slash is fine');
    });

    it('turns percent-encoded user:password into a Basic header and keeps them out of the display', function () {
      const proxy = parseProxyUrl('http://d%C3%A9v%40corp:p%40ss%3Aw%2Frd@proxy.corp:3128', '--proxy');
      assert.equal(proxy.authorization, `Basic ${Buffer.from('dév@corp:p@ss:w/rd').toString('base64')}`);
      assert.equal(proxy.display, 'http://***@proxy.corp:3128');
      assert.equal(parseProxyUrl('http://user@proxy.corp:3128', '--proxy').authorization, `Basic ${Buffer.from('user:').toString('base64')}`);
    });

    it('refuses what is not an HTTP proxy, without quoting credentials', function () {
      for (const [text, pattern] of [
        ['socks5://user:secret@proxy.corp:1080', /http:\/\/ or https:\/\/ proxy URL/],
        ['http://user:secret@proxy.corp:3128/path', /no path/],
        ['http://user:secret@:3128', /proxy URL|no proxy host/],
        ['http://user:secret@proxy.corp:99999', /proxy URL/],
        ['http://user:%E0%A4%A@proxy.corp:3128', /percent-encoding/],
      ] as const) {
        assert.throws(
          () => parseProxyUrl(text, '--proxy'),
          (error: unknown) => {
            assert.ok(error instanceof ConnectorArgumentError, text);
            assert.match(error.message, pattern, text);
            assert.doesNotMatch(error.message, /secret|%E0/, text);
            return true;
          },
        );
      }
    });

    it('redacts credentials in any URL text', function () {
      assert.equal(redactProxyUrl('http://user:secret@proxy:3128'), 'http://***@proxy:3128');
      assert.equal(redactProxyUrl('user:secret@proxy:3128'), '***@proxy:3128');
      assert.equal(redactProxyUrl('http://proxy:3128'), 'http://proxy:3128');
    });
  });

  describe('NO_PROXY', function () {
    it('matches host names and domain suffixes, ignoring case and a leading dot or *.', function () {
      const s = settings('corp.example, .internal,*.lab.test WIKI.Local');
      assert.equal(shouldProxy(s, 'corp.example', 443), false);
      assert.equal(shouldProxy(s, 'gw.CORP.example', 443), false);
      assert.equal(shouldProxy(s, 'notcorp.example', 443), true, 'a suffix matches at a dot only');
      assert.equal(shouldProxy(s, 'gatehouse.internal', 8444), false);
      assert.equal(shouldProxy(s, 'a.b.lab.test', 443), false);
      assert.equal(shouldProxy(s, 'lab.test', 443), false);
      assert.equal(shouldProxy(s, 'wiki.local', 443), false);
      assert.equal(shouldProxy(s, 'wiki.local.', 443), false, 'a fully qualified name');
      assert.equal(shouldProxy(s, 'gatehouse.example.com', 443), true);
    });

    it('matches a host with a port only on that port', function () {
      const s = settings('gatehouse.corp:8444,10.0.0.1:443,[fd00::1]:8444');
      assert.equal(shouldProxy(s, 'gatehouse.corp', 8444), false);
      assert.equal(shouldProxy(s, 'gatehouse.corp', 443), true);
      assert.equal(shouldProxy(s, '10.0.0.1', 443), false);
      assert.equal(shouldProxy(s, '10.0.0.1', 8444), true);
      assert.equal(shouldProxy(s, '[fd00::1]', 8444), false);
      assert.equal(shouldProxy(s, 'fd00::1', 443), true);
    });

    it('matches addresses and CIDR ranges, IPv4 and IPv6', function () {
      const s = settings('127.0.0.1,10.0.0.0/8,fd00::/8,::1');
      assert.equal(shouldProxy(s, '127.0.0.1', 8444), false);
      assert.equal(shouldProxy(s, '127.0.0.2', 8444), true);
      assert.equal(shouldProxy(s, '10.20.30.40', 443), false);
      assert.equal(shouldProxy(s, '11.0.0.1', 443), true);
      assert.equal(shouldProxy(s, 'fd12::5', 443), false);
      assert.equal(shouldProxy(s, '[::1]', 443), false);
      assert.equal(shouldProxy(s, '2001:db8::1', 443), true);
      assert.equal(shouldProxy(s, 'localhost', 443), true, 'a name is not resolved to match an address entry');
    });

    it('* bypasses every host; empty entries are ignored', function () {
      assert.equal(shouldProxy(settings('*'), 'anything.example', 443), false);
      assert.equal(shouldProxy(settings(' , ,'), 'anything.example', 443), true);
      assert.deepEqual(parseNoProxy(undefined).texts, []);
    });

    it('refuses a bad port or prefix', function () {
      assert.throws(() => parseNoProxy('host:notaport'), /bad port/);
      assert.throws(() => parseNoProxy('10.0.0.0/33'), /bad prefix/);
      assert.throws(() => parseNoProxy('name/8'), /not a CIDR/);
    });
  });

  describe('resolveProxySettings', function () {
    it('takes HTTPS_PROXY or https_proxy (lower case first), and nothing without them', function () {
      assert.equal(resolveProxySettings({ env: { HTTPS_PROXY: 'http://upper:3128' } }).proxy?.host, 'upper');
      assert.equal(resolveProxySettings({ env: { HTTPS_PROXY: 'http://upper:3128', https_proxy: 'http://lower:3128' } }).proxy?.host, 'lower');
      const none = resolveProxySettings({ env: { HTTP_PROXY: 'http://plain:3128' } });
      assert.equal(none.proxy, undefined, 'HTTP_PROXY is for http:// URLs; the connector calls only https://');
      assert.equal(none.source, 'none');
    });

    it('lets --proxy win over the environment, and --proxy none (or empty) turn it off', function () {
      const env = { HTTPS_PROXY: 'http://env-proxy:3128', NO_PROXY: '.corp' };
      const option = resolveProxySettings({ option: 'http://option-proxy:8080', env });
      assert.equal(option.proxy?.host, 'option-proxy');
      assert.equal(option.source, 'option');
      assert.equal(shouldProxy(option, 'gw.corp', 443), false, 'NO_PROXY still applies');
      for (const off of ['none', '', ' ']) {
        const direct = resolveProxySettings({ option: off, env });
        assert.equal(direct.proxy, undefined);
        assert.equal(shouldProxy(direct, 'gatehouse.example.com', 443), false);
      }
    });

    it('names the variable in a parse error', function () {
      assert.throws(() => resolveProxySettings({ env: { https_proxy: 'ftp://proxy:21' } }), /^ConnectorArgumentError: https_proxy must be/);
    });

    it('describes the settings without the credentials', function () {
      const text = describeProxySettings(resolveProxySettings({ option: 'http://alice:hunter2@proxy.corp:3128', env: { no_proxy: 'localhost,10.0.0.0/8' } }));
      assert.equal(text, 'through the outbound proxy http://***@proxy.corp:3128 (from --proxy); direct for NO_PROXY localhost,10.0.0.0/8');
      assert.doesNotMatch(text, /alice|hunter2/);
    });
  });
});

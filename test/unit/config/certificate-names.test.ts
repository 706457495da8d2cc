import assert from 'node:assert/strict';
import { createDevCa, type DevCa } from '../../../dev/lib/dev-ca.ts';
import { certificateNameWarnings, configWarnings } from '../../../src/config/config-warnings.ts';
import { parseGatewayConfig } from '../../../src/config/parse.ts';
import { uncoveredHosts } from '../../../src/config/pem-checks.ts';

const SECRET = 'a-very-long-session-secret-of-at-least-32-chars';

describe('config: the server certificate names every published host', () => {
  let ca: DevCa;
  before(() => {
    ca = createDevCa();
  });

  const configWith = (names: string[], externalUrls: string[]) => {
    const server = ca.issueServerCertificate(names);
    return parseGatewayConfig({
      identityProvider: { issuer: 'https://login.example.com', clientId: 'gatehouse', clientSecret: 's3cret' },
      session: { secrets: [{ id: 1, secret: SECRET }] },
      server: { tls: { cert: server.certPem, key: server.keyPem } },
      apps: externalUrls.map((externalUrl, index) => ({
        id: `app${index}`,
        externalUrl,
        internalUrl: 'http://10.0.0.5:8080',
        preauth: 'passthrough' as const,
      })),
    });
  };

  it('warns for each app whose host is not a subject alternative name, by its key', () => {
    const config = configWith(
      ['wiki.example.com', '*.apps.example.com'],
      ['https://wiki.example.com', 'https://grafana.apps.example.com:8443', 'https://docs.example.com', 'https://deep.sub.apps.example.com'],
    );
    const warnings = certificateNameWarnings(config);
    assert.equal(warnings.length, 2, warnings.join('\n'));
    assert.match(warnings[0]!, /^apps\[2\]\.externalUrl: the server certificate \(server\.tls\) does not name "docs\.example\.com"/);
    // A wildcard covers one label, as browsers match it.
    assert.match(warnings[1]!, /^apps\[3\]\.externalUrl: .* "deep\.sub\.apps\.example\.com"/);
    assert.deepEqual(configWarnings(config), warnings);
  });

  it('matches IP addresses against IP names, not DNS names', () => {
    const { certPem } = ca.issueServerCertificate(['127.0.0.1', 'localhost']);
    assert.deepEqual(uncoveredHosts(certPem, ['127.0.0.1', 'localhost', '127.0.0.2', '[::1]']), ['127.0.0.2', '[::1]']);
  });

  it('says nothing without server.tls (TLS ends in front of the gateway)', () => {
    const config = parseGatewayConfig({
      identityProvider: { issuer: 'https://login.example.com', clientId: 'gatehouse', clientSecret: 's3cret' },
      session: { secrets: [{ id: 1, secret: SECRET }] },
      apps: [{ id: 'wiki', externalUrl: 'https://wiki.example.com', internalUrl: 'http://10.0.0.5:8080' }],
    });
    assert.deepEqual(certificateNameWarnings(config), []);
  });
});

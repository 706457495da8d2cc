import assert from 'node:assert/strict';
import type { ConnectorError } from '../../../src/errors/connector-error.ts';
import { certificateRefused, connectorRevoked, serviceRefusedConnector } from '../../../src/errors/connector-refusal.ts';
import { GatehouseError } from '../../../src/errors/gatehouse-error.ts';
import { connectorPlaneErrorBody } from '../../../src/errors/render-connector-plane.ts';
import { mapHttpError, mapTransportError, type CallContext } from '../../../src/connector/service-errors.ts';

const serviceUrl = 'https://gatehouse.example:8443';
const rest: CallContext = { serviceUrl, withIdentity: true, withToken: false };

/** What the connector makes of the service's error, heard on a REST call (the body the service's renderer writes). */
function heardOnRest(error: GatehouseError): ConnectorError {
  return mapHttpError(error.status, JSON.stringify(connectorPlaneErrorBody(error, { requestId: 'req-1' })), rest);
}

/** ...heard as a tunnel's GOAWAY notice, which carries the code and reason only. */
function heardOnTunnel(error: GatehouseError): ConnectorError {
  return serviceRefusedConnector({ code: error.code, reason: error.reason }, { serviceUrl });
}

function same(errors: readonly ConnectorError[]): void {
  const [first, ...others] = errors;
  assert.ok(first);
  for (const other of others) {
    assert.equal(other.code, first.code);
    assert.equal(other.message, first.message);
    assert.equal(other.reason, first.reason);
    assert.equal(other.retryable, false);
  }
}

describe('the connector says why the service refused it in one wording, whichever link heard it first', function () {
  it('revoked: the events stream, a REST call, a tunnel notice, and an older service', function () {
    const refusal = new GatehouseError('ERR_CONNECTOR_REVOKED', 'revoked');
    const errors = [
      connectorRevoked({ serviceUrl }),
      heardOnRest(refusal),
      heardOnTunnel(refusal),
      serviceRefusedConnector({ code: 'ERR_CERT_REVOKED', reason: 'revoked' }, { serviceUrl }),
      mapHttpError(401, JSON.stringify({ error: { code: 'ERR_CERT_REVOKED', reason: 'revoked', message: 'Revoked.' } }), rest),
    ];
    same(errors);
    assert.equal(errors[0]?.code, 'ERR_CONNECTOR_REVOKED');
    assert.equal(
      errors[0]?.message,
      'An administrator revoked this connector; the service refuses it from now on. To bring it back, register it again: gatehouse-connector register --service https://gatehouse.example:8443 --force',
    );
  });

  it('certificate refused: a REST call, a tunnel notice, the factory, and an older service', function () {
    const refusal = new GatehouseError('ERR_CERT_REFUSED', 'other_ca');
    const errors = [
      certificateRefused('other_ca', { serviceUrl }),
      heardOnRest(refusal),
      heardOnTunnel(refusal),
      serviceRefusedConnector({ code: 'ERR_CONNECTOR_CERT', reason: 'other_ca' }, { serviceUrl }),
    ];
    same(errors);
    assert.equal(errors[0]?.code, 'ERR_CERT_REFUSED');
    assert.equal(
      errors[0]?.message,
      "The service refused this connector's certificate: it was not issued by this service's connector CA (other_ca). Register the connector again: gatehouse-connector register --service https://gatehouse.example:8443 --force",
    );
  });

  it('words a TLS alert at the handshake as a refused certificate too, naming the alert', function () {
    const alert = Object.assign(new Error('alert'), { code: 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA' });
    const error = mapTransportError(alert, rest);
    assert.equal(error.code, 'ERR_CERT_REFUSED');
    assert.equal(error.retryable, false);
    assert.equal(error.message, certificateRefused('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', { serviceUrl }).message);
    assert.match(error.message, /the TLS handshake refused it \(ERR_SSL_TLSV1_ALERT_UNKNOWN_CA\)/);
  });

  it('never prints what the service sent as a reason unless it is a machine token', function () {
    const error = serviceRefusedConnector({ code: 'ERR_CERT_REFUSED', reason: '\u001b[31mrun this: rm -rf /' }, { serviceUrl });
    assert.equal(error.reason, 'unknown');
    assert.doesNotMatch(error.message, /rm -rf/);
  });
});

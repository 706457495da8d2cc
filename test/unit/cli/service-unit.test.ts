import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ServiceInstallError } from '../../../src/connector/service-install/errors.ts';
import { CONNECTOR_SERVICE, renderConnectorEnv, renderConnectorUnit } from '../../../src/connector/service-install/unit.ts';
import { directive, parseUnit } from '../../support/systemd-unit.ts';

const example = (name: string): string => readFileSync(new URL(`../../../examples/connector-service/${name}`, import.meta.url), 'utf8');

describe('service install: the unit it writes', () => {
  it('is, with the defaults, the documented unit in examples/connector-service byte for byte', () => {
    assert.equal(renderConnectorUnit(), example('gatehouse-connector.service'));
    assert.equal(renderConnectorEnv(), example('connector.env.example'));
  });

  it('runs the given binary with the fixed state directory, and changes nothing else', () => {
    const unit = renderConnectorUnit({ execPath: '/usr/bin/gatehouse-connector' });
    const parsed = parseUnit(unit);
    assert.match(directive(parsed, 'Service', 'ExecStart') ?? '', /^\/usr\/bin\/gatehouse-connector run --state-dir \/var\/lib\/gatehouse-connector /);
    assert.equal(unit.replace('/usr/bin/gatehouse-connector run', `${CONNECTOR_SERVICE.defaultExecPath} run`), renderConnectorUnit());
    assert.equal(directive(parsed, 'Service', 'User'), CONNECTOR_SERVICE.user);
    assert.equal(directive(parsed, 'Service', 'StateDirectory'), 'gatehouse-connector');
    assert.equal(directive(parsed, 'Service', 'StateDirectoryMode'), '0700');
    assert.equal(directive(parsed, 'Service', 'EnvironmentFile'), `-${CONNECTOR_SERVICE.envFile}`);
  });

  for (const bad of ['gatehouse-connector', '/opt/my tools/gatehouse-connector', '/opt/$HOME/x', '/opt/%i/x', '/opt/a;b']) {
    it(`refuses --bin ${JSON.stringify(bad)}: systemd would split, expand or not find it`, () => {
      assert.throws(
        () => renderConnectorUnit({ execPath: bad }),
        (error: unknown) => error instanceof ServiceInstallError && error.code === 'ERR_INSTALL_ARGUMENT' && error.message.includes('--bin'),
      );
    });
  }
});

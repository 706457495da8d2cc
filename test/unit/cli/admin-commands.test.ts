import assert from 'node:assert/strict';
import { takeConnectorId, valuedOptions } from '../../../src/cli/admin-commands.ts';
import { GATEHOUSE_PROGRAM } from '../../../src/cli/gatehouse-commands.ts';
import { parseCommandLine } from '../../../src/cli/usage.ts';

describe('gatehouse admin: the connector ID of revoke and move', () => {
  const valued = valuedOptions(GATEHOUSE_PROGRAM.commands);
  const parse = (argv: string[]) => {
    const taken = takeConnectorId(argv, valued);
    const line = parseCommandLine(GATEHOUSE_PROGRAM, taken.argv);
    return { id: taken.id, line };
  };

  it('finds the ID wherever it stands among the options, and never takes an option value for it', () => {
    const cases: Array<[string[], string, string]> = [
      [['admin', 'connectors', 'revoke', 'c-1', '--service', 'https://s'], 'admin connectors revoke', 'c-1'],
      [['admin', 'connectors', 'revoke', '--service', 'https://s', 'c-2'], 'admin connectors revoke', 'c-2'],
      [['admin', 'connectors', 'revoke', '--json', 'c-3'], 'admin connectors revoke', 'c-3'],
      [['admin', 'connectors', 'move', '--group', 'office', 'c-4'], 'admin connectors move', 'c-4'],
      [['admin', 'connectors', 'move', '--group=office', 'c-5'], 'admin connectors move', 'c-5'],
      [['--json', 'admin', 'connectors', 'move', 'c-6', '--group', 'office'], 'admin connectors move', 'c-6'],
    ];
    for (const [argv, command, id] of cases) {
      const { id: taken, line } = parse(argv);
      assert.equal(taken, id, argv.join(' '));
      assert.equal(line.kind, 'command', argv.join(' '));
      if (line.kind === 'command') assert.equal(line.command.name, command);
    }
  });

  it('takes nothing from other commands, nor a group named like a subcommand, nor a second word', () => {
    assert.equal(parse(['admin', 'connectors', '--group', 'revoke']).id, undefined);
    const listed = parse(['admin', 'connectors', '--group', 'revoke']).line;
    assert.ok(listed.kind === 'command' && listed.command.name === 'admin connectors');
    assert.equal(parse(['admin', 'apps', 'c-1']).id, undefined);
    assert.equal(parse(['check', '--config', 'revoke']).id, undefined);
    assert.equal(parse(['admin', 'connectors', 'revoke', '--', 'c-1']).id, undefined, 'after -- nothing is read');
    const extra = parse(['admin', 'connectors', 'revoke', 'c-1', 'c-2']).line;
    assert.equal(extra.kind, 'usage-error');
    assert.match(extra.kind === 'usage-error' ? extra.text : '', /unexpected argument "c-2"/);
  });
});

import assert from 'node:assert/strict';
import { commandsBetween, describeCommands, parseCommandStats, totalCalls, withoutBackground } from '../../../bench/lib/redis-commandstats.ts';

// As Redis 7.0 answers INFO commandstats (CRLF line ends, subcommands as parent|sub).
const INFO = [
  '# Commandstats',
  'cmdstat_client|setname:calls=1,usec=4,usec_per_call=4.00,rejected_calls=0,failed_calls=0',
  'cmdstat_set:calls=12,usec=21,usec_per_call=1.75,rejected_calls=0,failed_calls=0',
  'cmdstat_info:calls=3,usec=300,usec_per_call=100.00,rejected_calls=0,failed_calls=0',
  'cmdstat_evalsha:calls=7,usec=70,usec_per_call=10.00,rejected_calls=2,failed_calls=1',
  '',
].join('\r\n');

describe('bench: Redis command counters', () => {
  it('parses calls per command, subcommands included, and nothing else', () => {
    assert.deepEqual(
      [...parseCommandStats(INFO)],
      [
        ['client|setname', 1],
        ['set', 12],
        ['info', 3],
        ['evalsha', 7],
      ],
    );
    assert.equal(parseCommandStats('# Commandstats\r\n').size, 0);
    // rejected_calls is not calls.
    assert.equal(parseCommandStats('cmdstat_get:rejected_calls=5,calls=2').get('get'), 2);
  });

  it('counts what was called between two snapshots, without the INFO that took the first', () => {
    const before = parseCommandStats(INFO);
    const after = new Map([...before, ['set', 15], ['info', 4], ['get', 2]]);
    assert.deepEqual(
      [...commandsBetween(before, after)],
      [
        ['set', 3],
        ['get', 2],
      ],
    );
  });

  it('takes the background out at its rate, per command, rounded up to whole calls, never below zero', () => {
    // 6 heartbeat writes and 6 reads in 18 s of quiet: 1 of each per 3 s; the run lasted 9 s.
    const background = new Map([
      ['set', 6],
      ['scan', 6],
    ]);
    const run = new Map([
      ['set', 3],
      ['scan', 2],
      ['evalsha', 5],
    ]);
    const rest = withoutBackground(run, 9, background, 18);
    assert.deepEqual([...rest], [['evalsha', 5]]);
    assert.equal(totalCalls(rest), 5);
    // 10 s hold 3.3 heartbeats at that rate, 4 at most: a fourth round is background too.
    assert.deepEqual(
      [
        ...withoutBackground(
          new Map([
            ['set', 4],
            ['evalsha', 5],
          ]),
          10,
          background,
          18,
        ),
      ],
      [['evalsha', 5]],
    );
    // No quiet period measured: nothing is taken out.
    assert.deepEqual([...withoutBackground(run, 9, new Map(), 0)], [...run]);
  });

  it('describes the commands most called first', () => {
    assert.equal(describeCommands(new Map()), 'none');
    assert.equal(
      describeCommands(
        new Map([
          ['get', 1],
          ['evalsha', 4],
          ['set', 1],
        ]),
      ),
      'evalsha 4, get 1, set 1',
    );
  });
});

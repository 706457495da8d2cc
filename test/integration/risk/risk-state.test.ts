import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBuiltInRisk, type BuiltInRisk } from '../../../src/risk/built-in-risk.ts';
import { MemoryRiskState } from '../../../src/risk/memory-risk-state.ts';
import { RedisRiskState } from '../../../src/risk/redis-risk-state.ts';
import type { RiskState } from '../../../src/risk/risk-state.ts';
import type { RiskSettingsInput } from '../../../src/risk/settings.ts';
import { SqliteRiskState } from '../../../src/risk/sqlite-risk-state.ts';
import { RedisConnection } from '../../../src/store/redis-connection.ts';
import { startRedisServer, type RedisServer } from '../../support/redis-server.ts';

const SECOND = 1000;
const DAY = 86_400 * SECOND;
const BOUNDS = { maxUsers: 5, maxAddresses: 3 };

function manualClock(start = Date.UTC(2025, 0, 31, 8)): { (): number; advance(ms: number): void } {
  let now = start;
  const clock = () => now;
  clock.advance = (ms: number) => {
    now += ms;
  };
  return clock;
}

interface Backend {
  readonly name: string;
  /** A fresh, empty state; `bounded` says whether it keeps the key bounds (Redis leaves that to key expiry). */
  open(): Promise<RiskState>;
  readonly bounded: boolean;
}

let redis: RedisServer;
let dir: string;
const connections: RedisConnection[] = [];
const opened: RiskState[] = [];
let files = 0;

async function redisState(): Promise<RiskState> {
  const connection = await RedisConnection.open(redis.url);
  connections.push(connection);
  return new RedisRiskState(connection);
}

const backends: readonly Backend[] = [
  { name: 'memory', bounded: true, open: () => Promise.resolve(new MemoryRiskState(BOUNDS)) },
  { name: 'SQLite', bounded: true, open: () => Promise.resolve(SqliteRiskState.open(join(dir, `${(files += 1)}.db`), BOUNDS)) },
  { name: 'Redis', bounded: false, open: redisState },
];

before(async function () {
  redis = await startRedisServer();
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-risk-'));
});
after(async function () {
  await redis?.close();
  await rm(dir, { recursive: true, force: true });
});
afterEach(async function () {
  for (const state of opened.splice(0)) await state.close?.();
  for (const connection of connections.splice(0)) await connection.close();
});

for (const backend of backends) {
  describe(`risk state on ${backend.name}: the built-in signals behave the same`, function () {
    const settings = { failedSignIns: { window: 60, perUser: { medium: 3, high: 6 }, perAddress: { medium: 4, high: 8 } } };
    async function setup(input: RiskSettingsInput = settings) {
      if (backend.name === 'Redis') {
        const connection = await RedisConnection.open(redis.url);
        await connection.client.flushdb();
        await connection.close();
      }
      const state = await backend.open();
      opened.push(state);
      const clock = manualClock();
      const risk = createBuiltInRisk({ settings: input, clock, state });
      return { clock, risk, state, judge: (sub: string, clientIp: string) => risk.assess({ sub, clientIp }) };
    }
    const fail = async (risk: BuiltInRisk, times: number, input: { sub?: string; clientIp: string }) => {
      for (let index = 0; index < times; index += 1) await risk.recordSignInFailure(input);
    };

    it('counts failures per user and per address in a sliding window', async function () {
      const { clock, risk, judge } = await setup();
      await fail(risk, 2, { sub: 'alice', clientIp: '198.51.100.1' });
      clock.advance(30 * SECOND);
      await fail(risk, 1, { sub: 'alice', clientIp: '198.51.100.2' });
      assert.deepEqual((await judge('alice', '192.0.2.1')).signals, [{ signal: 'failed_sign_ins_user', level: 'medium', count: 3 }]);
      await fail(risk, 3, { clientIp: '203.0.113.9' });
      assert.equal((await judge('bob', '203.0.113.9')).signInRisk, 'none');
      await fail(risk, 1, { sub: 'mallory', clientIp: '203.0.113.9' });
      assert.deepEqual((await judge('bob', '203.0.113.9')).signals, [{ signal: 'failed_sign_ins_address', level: 'medium', count: 4 }]);
      clock.advance(30 * SECOND); // the first two failures are exactly 60 s old: out of the window
      assert.equal((await judge('alice', '192.0.2.1')).signInRisk, 'none');
      assert.equal((await judge('bob', '203.0.113.9')).signInRisk, 'medium', 'the address failures are 30 s old');
    });

    it('keeps at most `high` failures per key, and reaches high at it', async function () {
      const { risk, state, judge } = await setup();
      await fail(risk, 20, { sub: 'alice', clientIp: '198.51.100.1' });
      assert.equal((await judge('alice', '192.0.2.1')).signInRisk, 'high');
      assert.equal(await state.failuresInWindow('user', 'alice', Date.UTC(2025, 0, 31, 8), 60 * SECOND), 6);
      assert.equal(await state.failuresInWindow('address', '198.51.100.1', Date.UTC(2025, 0, 31, 8), 60 * SECOND), 8);
    });

    it('remembers networks per user, forgets one unused for rememberFor, and keeps at most maxNetworksPerUser', async function () {
      const { clock, risk, judge } = await setup({
        newNetwork: { rememberFor: '2d' },
        manyNetworks: { medium: 2, high: 3 },
        memory: { maxNetworksPerUser: 3 },
      });
      assert.equal((await judge('dave', '198.51.100.7')).signInRisk, 'none', 'no history yet');
      await risk.recordSignInSuccess({ sub: 'dave', clientIp: '198.51.100.7' });
      clock.advance(DAY);
      await risk.recordSignInSuccess({ sub: 'dave', clientIp: '203.0.113.5' });
      assert.deepEqual((await judge('dave', '192.0.2.1')).signals[0], { signal: 'new_network', level: 'low' });
      assert.equal((await judge('dave', '198.51.100.200')).signInRisk, 'none', 'same /24');
      clock.advance(DAY);
      assert.equal((await judge('dave', '198.51.100.7')).signInRisk, 'low', 'two days unused: unfamiliar again');
      for (const network of [1, 2, 3, 4]) {
        clock.advance(1);
        await risk.recordSignInSuccess({ sub: 'dave', clientIp: `192.0.${network}.1` });
      }
      assert.equal((await judge('dave', '192.0.1.1')).signInRisk, 'low', 'pushed out by newer networks');
      assert.equal((await judge('dave', '192.0.4.1')).signInRisk, 'none');
      assert.equal((await judge('dave', '203.0.113.5')).signInRisk, 'low');
    });

    it('counts the networks of the last window for the user risk', async function () {
      const { risk, judge } = await setup({ manyNetworks: { window: '1h', medium: 3, high: 4 } });
      for (const ip of ['198.51.100.1', '203.0.113.1', '192.0.2.1']) await risk.recordSignInSuccess({ sub: 'frank', clientIp: ip });
      assert.equal((await judge('frank', '198.51.100.1')).userRisk, 'medium');
      assert.equal((await judge('frank', '100.64.0.1')).userRisk, 'high', 'counting the request being judged');
    });

    if (backend.bounded) {
      it('stays within the bounds, forgetting the least recently active first', async function () {
        const { risk, judge } = await setup({ failedSignIns: { perUser: { medium: 1, high: 2 }, perAddress: { medium: 1, high: 2 } } });
        for (let index = 0; index < 20; index += 1) await risk.recordSignInFailure({ sub: `user-${index}`, clientIp: `10.0.0.${index}` });
        for (let index = 0; index < 8; index += 1) await risk.recordSignInSuccess({ sub: `user-${index}`, clientIp: '192.0.2.1' });
        assert.deepEqual(risk.stats(), {
          usersWithFailures: 5,
          addressesWithFailures: 3,
          usersWithHistory: 5,
          evicted: { usersWithFailures: 15, addressesWithFailures: 17, usersWithHistory: 3 },
        });
        assert.equal((await judge('user-19', '192.0.2.1')).signInRisk, 'medium', 'the newest is remembered');
        assert.equal((await judge('user-0', '192.0.2.1')).signInRisk, 'none', 'the oldest was forgotten');
        assert.equal((await judge('x', '10.0.0.19')).signInRisk, 'medium');
        assert.equal((await judge('x', '10.0.0.0')).signInRisk, 'none');
      });
    }
  });
}

describe('risk state shared and kept', function () {
  it('two gateways on one Redis see each other’s failures: five spread over both raise the user’s risk on each', async function () {
    const [a, b] = [await redisState(), await redisState()];
    const clock = manualClock();
    const onA = createBuiltInRisk({ clock, state: a });
    const onB = createBuiltInRisk({ clock, state: b });
    for (let index = 0; index < 3; index += 1) await onA.recordSignInFailure({ sub: 'shared-user', clientIp: `198.51.100.${index}` });
    assert.equal((await onB.assess({ sub: 'shared-user', clientIp: '192.0.2.1' })).signInRisk, 'none', 'three failures: below the default threshold');
    for (let index = 3; index < 5; index += 1) await onB.recordSignInFailure({ sub: 'shared-user', clientIp: `198.51.100.${index}` });
    for (const risk of [onA, onB]) {
      assert.deepEqual(await risk.provider({ sub: 'shared-user', clientIp: '192.0.2.1', app: 'wiki' }), { userRisk: 'none', signInRisk: 'medium' });
    }
    await onA.recordSignInSuccess({ sub: 'shared-user', clientIp: '203.0.113.7' });
    assert.deepEqual((await onB.assess({ sub: 'shared-user', clientIp: '100.64.0.1' })).signals[1], { signal: 'new_network', level: 'low' });
  });

  it('a restart on SQLite keeps the failure counts and the remembered networks', async function () {
    const path = join(dir, 'restart.db');
    const clock = manualClock();
    const first = SqliteRiskState.open(path, BOUNDS);
    const before = createBuiltInRisk({ clock, state: first });
    for (let index = 0; index < 5; index += 1) await before.recordSignInFailure({ sub: 'alice', clientIp: '198.51.100.1' });
    await before.recordSignInSuccess({ sub: 'alice', clientIp: '203.0.113.7' });
    first.close();
    const second = SqliteRiskState.open(path, BOUNDS);
    try {
      const after = createBuiltInRisk({ clock, state: second });
      const judged = await after.assess({ sub: 'alice', clientIp: '192.0.2.1' });
      assert.deepEqual(judged.signals, [
        { signal: 'failed_sign_ins_user', level: 'medium', count: 5 },
        { signal: 'new_network', level: 'low' },
      ]);
    } finally {
      second.close();
    }
  });

  it('with Redis unreachable the provider answers high for both risks (fail closed, as onError "high"), recording drops quietly, and it recovers', async function () {
    const own = await startRedisServer();
    const connection = await RedisConnection.open(own.url, { commandTimeoutMs: 500 });
    try {
      const errors: unknown[] = [];
      const risk = createBuiltInRisk({ state: new RedisRiskState(connection), onStateError: (error) => errors.push(error) });
      const input = { sub: 'alice', clientIp: '192.0.2.1', app: 'wiki' };
      assert.deepEqual(await risk.provider(input), { userRisk: 'none', signInRisk: 'none' });
      await own.stop();
      assert.deepEqual(await risk.provider(input), { userRisk: 'high', signInRisk: 'high' });
      await risk.recordSignInFailure({ sub: 'alice', clientIp: '192.0.2.1' });
      await assert.rejects(risk.assess({ sub: 'alice', clientIp: '192.0.2.1' }), 'assess itself says the state cannot be read');
      assert.ok(errors.length >= 2, 'every failure is reported');
      await own.start();
      await connection.ready();
      const deadline = Date.now() + 10_000;
      while (!connection.up && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(await risk.provider(input), { userRisk: 'none', signInRisk: 'none' });
    } finally {
      await connection.close();
      await own.close();
    }
  });
});

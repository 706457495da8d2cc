import assert from 'node:assert/strict';
import { createBuiltInRisk, type BuiltInRisk } from '../../../src/risk/built-in-risk.ts';
import type { RiskSettingsInput } from '../../../src/risk/settings.ts';

/** A clock that only moves when the test moves it. */
function manualClock(start = Date.UTC(2025, 0, 31, 8)): { (): number; advance(ms: number): void } {
  let now = start;
  const clock = () => now;
  clock.advance = (ms: number) => {
    now += ms;
  };
  return clock;
}

const SECOND = 1000;
const HOUR = 3600 * SECOND;
const DAY = 24 * HOUR;

function setup(settings: RiskSettingsInput = {}) {
  const clock = manualClock();
  const risk = createBuiltInRisk({ settings, clock });
  const judge = (sub: string, clientIp: string) => risk.assess({ sub, clientIp });
  return { clock, risk, judge };
}

async function failTimes(risk: BuiltInRisk, times: number, input: { sub?: string; clientIp: string }): Promise<void> {
  for (let index = 0; index < times; index += 1) await risk.recordSignInFailure(input);
}

describe('built-in risk: failed sign-ins per user', function () {
  const settings = { failedSignIns: { window: 60, perUser: { medium: 3, high: 6 }, perAddress: { medium: 100, high: 200 } } };

  it('raises the sign-in risk to medium at the threshold and to high at the second, not before', async function () {
    const { risk, judge } = setup(settings);
    // Each failure from its own address, so only the per-user count can matter.
    const fail = (n: number) => risk.recordSignInFailure({ sub: 'alice', clientIp: `198.51.100.${n}` });
    await fail(1);
    await fail(2);
    assert.equal((await judge('alice', '192.0.2.1')).signInRisk, 'none');
    await fail(3);
    assert.deepEqual(await judge('alice', '192.0.2.1'), {
      userRisk: 'none',
      signInRisk: 'medium',
      signals: [{ signal: 'failed_sign_ins_user', level: 'medium', count: 3 }],
    });
    await fail(4);
    await fail(5);
    assert.equal((await judge('alice', '192.0.2.1')).signInRisk, 'medium');
    await fail(6);
    assert.equal((await judge('alice', '192.0.2.1')).signInRisk, 'high');
    assert.equal((await judge('bob', '192.0.2.1')).signInRisk, 'none', 'another user is not affected');
  });

  it('lets failures slide out of the window', async function () {
    const { clock, risk, judge } = setup(settings);
    await risk.recordSignInFailure({ sub: 'alice', clientIp: '198.51.100.1' });
    clock.advance(10 * SECOND);
    await risk.recordSignInFailure({ sub: 'alice', clientIp: '198.51.100.1' });
    clock.advance(10 * SECOND);
    await risk.recordSignInFailure({ sub: 'alice', clientIp: '198.51.100.1' });
    assert.equal((await judge('alice', '192.0.2.1')).signInRisk, 'medium');
    clock.advance(40 * SECOND - 1); // the first failure is 59.999 s old
    assert.equal((await judge('alice', '192.0.2.1')).signInRisk, 'medium');
    clock.advance(1); // now exactly 60 s: it left the window
    assert.equal((await judge('alice', '192.0.2.1')).signInRisk, 'none');
    await risk.recordSignInFailure({ sub: 'alice', clientIp: '198.51.100.1' });
    assert.equal((await judge('alice', '192.0.2.1')).signInRisk, 'medium', 'a new failure brings it back to three in the window');
  });

  it('keeps the risk after a successful sign-in: failures then success is a guessed password', async function () {
    const { risk, judge } = setup(settings);
    await failTimes(risk, 3, { sub: 'alice', clientIp: '198.51.100.1' });
    await risk.recordSignInSuccess({ sub: 'alice', clientIp: '198.51.100.1' });
    assert.equal((await judge('alice', '198.51.100.1')).signInRisk, 'medium');
  });

  it('takes `now` from the call when given, in epoch seconds like AccessFacts.now', async function () {
    const { clock, risk, judge } = setup(settings);
    const seconds = Math.floor(clock() / 1000);
    for (let index = 0; index < 6; index += 1) await risk.recordSignInFailure({ sub: 'alice', clientIp: '198.51.100.1', now: seconds - 120 });
    assert.equal((await judge('alice', '192.0.2.1')).signInRisk, 'none', 'failures recorded two minutes ago are outside the window');
    for (let index = 0; index < 3; index += 1) await risk.recordSignInFailure({ sub: 'alice', clientIp: '198.51.100.1', now: seconds });
    assert.equal((await judge('alice', '192.0.2.1')).signInRisk, 'medium');
    assert.equal((await risk.assess({ sub: 'alice', clientIp: '192.0.2.1', now: seconds + 60 })).signInRisk, 'none', "a minute later, by the caller's time");
  });
});

describe('built-in risk: failed sign-ins per client address', function () {
  const settings = { failedSignIns: { window: 300, perUser: { medium: 100, high: 200 }, perAddress: { medium: 4, high: 8 } } };

  it('raises the sign-in risk of anyone signing in from that address, with or without a known user', async function () {
    const { risk, judge } = setup(settings);
    await failTimes(risk, 3, { clientIp: '203.0.113.9' });
    assert.equal((await judge('carol', '203.0.113.9')).signInRisk, 'none');
    await risk.recordSignInFailure({ sub: 'mallory', clientIp: '203.0.113.9' });
    assert.deepEqual((await judge('carol', '203.0.113.9')).signals, [{ signal: 'failed_sign_ins_address', level: 'medium', count: 4 }]);
    assert.equal((await judge('carol', '203.0.113.10')).signInRisk, 'none', 'the neighbouring address is another client');
    await failTimes(risk, 4, { clientIp: '203.0.113.9' });
    assert.equal((await judge('carol', '203.0.113.9')).signInRisk, 'high');
  });

  it('counts an IPv6 client per /64, however it rotates its address within it', async function () {
    const { risk, judge } = setup(settings);
    for (let index = 1; index <= 4; index += 1) await risk.recordSignInFailure({ clientIp: `2001:db8:1:2::${index.toString(16)}:beef` });
    assert.equal((await judge('carol', '2001:db8:1:2:ffff::1')).signInRisk, 'medium');
    assert.equal((await judge('carol', '2001:db8:1:3::1')).signInRisk, 'none', 'another /64');
  });

  it('counts an IPv4-mapped address as the IPv4 address', async function () {
    const { risk, judge } = setup(settings);
    await failTimes(risk, 2, { clientIp: '::ffff:203.0.113.9' });
    await failTimes(risk, 2, { clientIp: '203.0.113.9' });
    assert.equal((await judge('carol', '203.0.113.9')).signInRisk, 'medium');
  });

  it('ignores what is not an IP address', async function () {
    const { risk, judge } = setup(settings);
    await failTimes(risk, 10, { clientIp: 'not-an-ip' });
    assert.equal((await judge('carol', 'not-an-ip')).signInRisk, 'none');
    assert.equal(risk.stats()?.addressesWithFailures, 0);
  });
});

describe('built-in risk: sign-in from a new network', function () {
  it('says nothing about the first ever sign-in, then flags a network the user has not used', async function () {
    const { risk, judge } = setup();
    assert.deepEqual(await judge('dave', '198.51.100.7'), { userRisk: 'none', signInRisk: 'none', signals: [] }, 'no history yet');
    await risk.recordSignInSuccess({ sub: 'dave', clientIp: '198.51.100.7' });
    assert.equal((await judge('dave', '198.51.100.200')).signInRisk, 'none', 'same /24');
    assert.deepEqual((await judge('dave', '203.0.113.5')).signals, [{ signal: 'new_network', level: 'low' }]);
    assert.equal((await judge('dave', '203.0.113.5')).signInRisk, 'low');
    assert.equal((await judge('erin', '203.0.113.5')).signInRisk, 'none', 'another user has no history');
    await risk.recordSignInSuccess({ sub: 'dave', clientIp: '203.0.113.77' });
    assert.equal((await judge('dave', '203.0.113.5')).signInRisk, 'none', 'the network is familiar once a sign-in from it completed');
  });

  it('uses /48 for IPv6 and the configured prefixes', async function () {
    const { risk, judge } = setup();
    await risk.recordSignInSuccess({ sub: 'dave', clientIp: '2001:db8:aa:1::1' });
    assert.equal((await judge('dave', '2001:db8:aa:ffff::9')).signInRisk, 'none');
    assert.equal((await judge('dave', '2001:db8:ab::1')).signInRisk, 'low');

    const narrow = setup({ networks: { ipv4Prefix: 32 } });
    await narrow.risk.recordSignInSuccess({ sub: 'dave', clientIp: '198.51.100.7' });
    assert.equal((await narrow.judge('dave', '198.51.100.8')).signInRisk, 'low', '/32: every address is its own network');
  });

  it('forgets a network unused for `rememberFor`', async function () {
    const { clock, risk, judge } = setup({ newNetwork: { rememberFor: '2d' } });
    await risk.recordSignInSuccess({ sub: 'dave', clientIp: '198.51.100.7' });
    clock.advance(DAY);
    await risk.recordSignInSuccess({ sub: 'dave', clientIp: '203.0.113.5' });
    clock.advance(DAY - 1);
    assert.equal((await judge('dave', '198.51.100.7')).signInRisk, 'none', 'still remembered');
    clock.advance(1);
    assert.equal((await judge('dave', '198.51.100.7')).signInRisk, 'low', 'two days unused: unfamiliar again');
    assert.equal((await judge('dave', '203.0.113.5')).signInRisk, 'none');
  });

  it('raises the configured level instead of low', async function () {
    const { risk, judge } = setup({ newNetwork: { level: 'medium' } });
    await risk.recordSignInSuccess({ sub: 'dave', clientIp: '198.51.100.7' });
    assert.equal((await judge('dave', '203.0.113.5')).signInRisk, 'medium');
  });
});

describe('built-in risk: many networks in a short window', function () {
  const settings = { manyNetworks: { window: '1h', medium: 3, high: 4 } };

  it('raises the user risk at the threshold counting the request being judged, and lets it fall once the window passes', async function () {
    const { clock, risk, judge } = setup(settings);
    await risk.recordSignInSuccess({ sub: 'frank', clientIp: '198.51.100.1' });
    clock.advance(5 * 60 * SECOND);
    await risk.recordSignInSuccess({ sub: 'frank', clientIp: '203.0.113.1' });
    assert.equal((await judge('frank', '203.0.113.1')).userRisk, 'none', 'two networks');
    const third = await judge('frank', '192.0.2.1');
    assert.equal(third.userRisk, 'medium', 'a third network, at the sign-in being judged');
    assert.deepEqual(third.signals, [
      { signal: 'new_network', level: 'low' },
      { signal: 'many_networks', level: 'medium', count: 3 },
    ]);
    await risk.recordSignInSuccess({ sub: 'frank', clientIp: '192.0.2.1' });
    assert.equal((await judge('frank', '198.51.100.1')).userRisk, 'medium', 'the risk follows the user to any network');
    await risk.recordSignInSuccess({ sub: 'frank', clientIp: '100.64.0.1' });
    assert.equal((await judge('frank', '198.51.100.1')).userRisk, 'high');
    clock.advance(HOUR - 5 * 60 * SECOND); // the first sign-in is an hour old
    assert.equal((await judge('frank', '203.0.113.1')).userRisk, 'medium', 'three networks left in the window');
    clock.advance(HOUR);
    assert.equal((await judge('frank', '203.0.113.1')).userRisk, 'none');
    assert.equal((await judge('frank', '203.0.113.1')).signInRisk, 'none', 'the networks are still familiar');
  });

  it('does not count one network twice, however often it is used', async function () {
    const { risk, judge } = setup(settings);
    for (let index = 0; index < 20; index += 1) await risk.recordSignInSuccess({ sub: 'frank', clientIp: `198.51.100.${index}` });
    assert.equal((await judge('frank', '198.51.100.1')).userRisk, 'none');
  });
});

describe('built-in risk: bounded memory', function () {
  it('remembers at most maxUsers users and maxAddresses addresses, forgetting the oldest', async function () {
    const { risk, judge } = setup({
      failedSignIns: { perUser: { medium: 1, high: 2 }, perAddress: { medium: 1, high: 2 } },
      memory: { maxUsers: 100, maxAddresses: 50 },
    });
    for (let index = 0; index < 5000; index += 1) {
      await risk.recordSignInFailure({ sub: `user-${index}`, clientIp: `10.${index >> 16}.${(index >> 8) & 255}.${index & 255}` });
    }
    const stats = risk.stats();
    assert.ok(stats);
    assert.equal(stats.usersWithFailures, 100);
    assert.equal(stats.addressesWithFailures, 50);
    assert.equal(stats.evicted.usersWithFailures, 4900);
    assert.equal(stats.evicted.addressesWithFailures, 4950);
    assert.equal((await judge('user-4999', '192.0.2.1')).signInRisk, 'medium', 'the newest is remembered');
    assert.equal((await judge('user-0', '192.0.2.1')).signInRisk, 'none', 'the oldest was forgotten');
    assert.equal((await judge('x', '10.0.19.135')).signInRisk, 'medium', 'the newest address is remembered'); // index 4999
    assert.equal((await judge('x', '10.0.0.0')).signInRisk, 'none', 'the oldest address was forgotten');
  });

  it('keeps the default bounds under a flood of distinct users', async function () {
    this.timeout(30_000); // 150,000 sign-in failures: under a second alone, longer on a busy machine
    const { risk } = setup();
    for (let index = 0; index < 150_000; index += 1) await risk.recordSignInFailure({ sub: `u${index}`, clientIp: '192.0.2.1' });
    assert.equal(risk.stats()?.usersWithFailures, 100_000);
  });

  it('remembers at most maxNetworksPerUser networks, forgetting the least recently used', async function () {
    const { risk, judge } = setup({ memory: { maxNetworksPerUser: 3 }, manyNetworks: { medium: 2, high: 3, window: 60 } });
    for (const network of [1, 2, 3, 4, 5]) await risk.recordSignInSuccess({ sub: 'gina', clientIp: `192.0.${network}.1` });
    assert.equal((await judge('gina', '192.0.1.1')).signInRisk, 'low', 'network 1 was pushed out');
    assert.equal((await judge('gina', '192.0.2.1')).signInRisk, 'low', 'network 2 was pushed out');
    assert.equal((await judge('gina', '192.0.3.1')).signInRisk, 'none');
    assert.equal((await judge('gina', '192.0.5.1')).signInRisk, 'none');
  });

  it('keeps network histories apart from failure counts, so failures naming made-up users evict no history', async function () {
    const { risk, judge } = setup({ memory: { maxUsers: 10 } });
    await risk.recordSignInSuccess({ sub: 'hank', clientIp: '198.51.100.7' });
    for (let index = 0; index < 1000; index += 1) await risk.recordSignInFailure({ sub: `forged-${index}`, clientIp: '203.0.113.1' });
    assert.equal((await judge('hank', '192.0.2.1')).signInRisk, 'low', 'hank still has a history');
    assert.equal(risk.stats()?.usersWithHistory, 1);
  });
});

describe('built-in risk: provider and switches', function () {
  it('answers through the RiskProvider interface', async function () {
    const { risk } = setup({ failedSignIns: { perUser: { medium: 1, high: 2 } } });
    await risk.recordSignInFailure({ sub: 'ivy', clientIp: '198.51.100.1' });
    assert.deepEqual(await risk.provider({ sub: 'ivy', clientIp: '192.0.2.1', app: 'wiki' }), { userRisk: 'none', signInRisk: 'medium' });
  });

  it('answers none and remembers nothing when disabled', async function () {
    const { risk, judge } = setup({ enabled: false, failedSignIns: { perUser: { medium: 1, high: 2 } } });
    await risk.recordSignInFailure({ sub: 'ivy', clientIp: '198.51.100.1' });
    await risk.recordSignInSuccess({ sub: 'ivy', clientIp: '198.51.100.1' });
    assert.deepEqual(await judge('ivy', '203.0.113.1'), { userRisk: 'none', signInRisk: 'none', signals: [] });
    assert.deepEqual(risk.stats(), {
      usersWithFailures: 0,
      addressesWithFailures: 0,
      usersWithHistory: 0,
      evicted: { usersWithFailures: 0, addressesWithFailures: 0, usersWithHistory: 0 },
    });
  });

  it('turns single signals off', async function () {
    const { risk, judge } = setup({ failedSignIns: { enabled: false, perUser: { medium: 1, high: 2 } }, newNetwork: { enabled: false } });
    await risk.recordSignInFailure({ sub: 'ivy', clientIp: '198.51.100.1' });
    await risk.recordSignInSuccess({ sub: 'ivy', clientIp: '198.51.100.1' });
    assert.equal((await judge('ivy', '203.0.113.1')).signInRisk, 'none');
  });
});

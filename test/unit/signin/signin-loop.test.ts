import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { SIGNIN_LOOP_MAX_COUNT, SIGNIN_LOOP_WINDOW_SECONDS } from '../../../src/limits.ts';
import { SignInLoopDetector } from '../../../src/signin/signin-loop.ts';
import { deriveSealKeys } from '../../../src/session/seal-keys.ts';

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);
const keys = deriveSealKeys([{ id: 1, secret: 'a-very-long-session-secret-of-at-least-32-chars' }]);

function request(setCookieOrValue: string | undefined): IncomingMessage {
  if (setCookieOrValue === undefined) return { headers: {} } as IncomingMessage;
  const pair = setCookieOrValue.includes('=') ? setCookieOrValue.split(';')[0]! : `__Secure-gh-loop=${setCookieOrValue}`;
  return { headers: { cookie: pair } } as IncomingMessage;
}

function valueOf(setCookie: string): string {
  const pair = setCookie.split(';')[0]!;
  return pair.slice(pair.indexOf('=') + 1);
}

describe('SignInLoopDetector', () => {
  const clock = { now: T0 };
  const loops = new SignInLoopDetector(() => clock.now, keys.loop);
  beforeEach(() => {
    clock.now = T0;
  });

  it('sees a loop after two completed sign-ins within the window (control)', () => {
    const once = loops.recordCompletion(request(undefined), 'wiki', true);
    assert.deepEqual(loops.check(request(once), 'wiki', true), { looping: false });
    const twice = loops.recordCompletion(request(once), 'wiki', true);
    assert.deepEqual(loops.check(request(twice), 'wiki', true), { looping: true });
    clock.now = T0 + (SIGNIN_LOOP_WINDOW_SECONDS + 1) * 1000;
    assert.deepEqual(loops.check(request(twice), 'wiki', true), { looping: false }, 'the window passed');
  });

  it('refuses the old unsigned format, whatever it says', () => {
    const now = Math.floor(T0 / 1000);
    for (const value of [`2.${now + 3600}`, `999.${now}`, '2.0', 'garbage']) {
      assert.deepEqual(loops.check(request(value), 'wiki', true), { looping: false, refused: 'malformed' }, value);
    }
  });

  it('refuses a changed count or time (MAC)', () => {
    const twice = valueOf(loops.recordCompletion(request(loops.recordCompletion(request(undefined), 'wiki', true)), 'wiki', true));
    const [count, first, id, mac] = twice.split('.');
    assert.equal(count, '2');
    assert.deepEqual(loops.check(request(`3.${first}.${id}.${mac}`), 'wiki', true), { looping: false, refused: 'tampered' });
    assert.deepEqual(loops.check(request(`2.${Number(first) + 1}.${id}.${mac}`), 'wiki', true), { looping: false, refused: 'tampered' });
  });

  it("refuses a genuine cookie of another app, or of another gateway's key", () => {
    const twice = loops.recordCompletion(request(loops.recordCompletion(request(undefined), 'hr', true)), 'hr', true);
    assert.deepEqual(loops.check(request(twice), 'wiki', true), { looping: false, refused: 'tampered' });
    const foreign = new SignInLoopDetector(() => clock.now);
    assert.deepEqual(foreign.check(request(twice), 'hr', true), { looping: false, refused: 'tampered' });
    const [count, first, , mac] = valueOf(twice).split('.');
    assert.deepEqual(loops.check(request(`${count}.${first}.7.${mac}`), 'hr', true), { looping: false, refused: 'unknown_key' });
  });

  it('ignores a genuine cookie dated in the future (our clock went back)', () => {
    clock.now = T0 + 600_000;
    const twice = loops.recordCompletion(request(loops.recordCompletion(request(undefined), 'wiki', true)), 'wiki', true);
    clock.now = T0;
    assert.deepEqual(loops.check(request(twice), 'wiki', true), { looping: false, refused: 'future' });
  });

  it('bounds the count', () => {
    let cookie = loops.recordCompletion(request(undefined), 'wiki', true);
    for (let index = 0; index < SIGNIN_LOOP_MAX_COUNT + 5; index += 1) cookie = loops.recordCompletion(request(cookie), 'wiki', true);
    assert.equal(valueOf(cookie).split('.')[0], String(SIGNIN_LOOP_MAX_COUNT));
    assert.deepEqual(loops.check(request(cookie), 'wiki', true), { looping: true });
  });

  it('verifies with every configured key and signs with the newest', () => {
    const rotated = new SignInLoopDetector(
      () => clock.now,
      deriveSealKeys([
        { id: 2, secret: 'the-new-session-secret-of-at-least-32-characters' },
        { id: 1, secret: 'a-very-long-session-secret-of-at-least-32-chars' },
      ]).loop,
    );
    const old = loops.recordCompletion(request(loops.recordCompletion(request(undefined), 'wiki', true)), 'wiki', true);
    assert.deepEqual(rotated.check(request(old), 'wiki', true), { looping: true });
    assert.equal(valueOf(rotated.recordCompletion(request(undefined), 'wiki', true)).split('.')[2], '2');
  });

  it('starts afresh over a refused cookie instead of building on it', () => {
    const now = Math.floor(T0 / 1000);
    const cookie = loops.recordCompletion(request(`9.${now}.1.${'A'.repeat(43)}`), 'wiki', true);
    assert.equal(valueOf(cookie).split('.')[0], '1');
  });
});

import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import fc from 'fast-check';
import { z } from 'zod';
import { isGatehouseCookie, readCookies } from '../../../src/session/cookies.ts';
import { deriveSealKeys } from '../../../src/session/seal-keys.ts';
import { seal, unseal } from '../../../src/session/sealer.ts';
import { UnsealCache } from '../../../src/session/unseal-cache.ts';
import { fuzzTimeout, runs } from '../../support/fuzz-runs.ts';

/**
 * The session cookie is the one value every client sends back: whatever it holds, reading and unsealing it never
 * throw, nothing but an unmodified seal unseals, and what was sealed comes back as it was.
 */

const KEYS = deriveSealKeys([{ id: 1, secret: 'fuzzing-session-secret-of-at-least-32-characters' }]);
const OTHER_KEYS = deriveSealKeys([{ id: 1, secret: 'another-session-secret-of-at-least-32-characters' }]);
const REASONS = new Set(['tampered', 'expired', 'unknown_key', 'malformed']);

const record = z.strictObject({ sub: z.string(), groups: z.array(z.string()), n: z.number() });
const RECORD = fc.record({ sub: fc.string({ maxLength: 40 }), groups: fc.array(fc.string({ maxLength: 12 }), { maxLength: 5 }), n: fc.integer() });

function requestWithCookie(cookie: string | undefined): IncomingMessage {
  return { headers: cookie === undefined ? {} : { cookie } } as unknown as IncomingMessage;
}

/** Printable ASCII, and characters a seal never holds. */
const SEAL_CHARS = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_*~.=+/ ;,\u00e9\u0000');

type Mutation =
  | { kind: 'flip'; at: number; char: string }
  | { kind: 'insert'; at: number; char: string }
  | { kind: 'delete'; at: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'swap'; a: number; b: number }
  | { kind: 'part-end'; part: number; char: string };

const BASE64_CHARS = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=');

const MUTATION: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), char: SEAL_CHARS }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), char: SEAL_CHARS }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('swap' as const), a: fc.nat(), b: fc.nat() }),
  // The last character of a base64url part carries padding bits: the spot where a lenient decoder is malleable.
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('part-end' as const), part: fc.integer({ min: 3, max: 7 }), char: BASE64_CHARS }) },
);

function mutate(value: string, mutations: readonly Mutation[]): string {
  let out = value;
  for (const mutation of mutations) {
    const at = (index: number): number => index % Math.max(1, out.length);
    if (mutation.kind === 'flip') out = out.slice(0, at(mutation.at)) + mutation.char + out.slice(at(mutation.at) + 1);
    else if (mutation.kind === 'insert') out = out.slice(0, at(mutation.at)) + mutation.char + out.slice(at(mutation.at));
    else if (mutation.kind === 'delete') out = out.slice(0, at(mutation.at)) + out.slice(at(mutation.at) + 1);
    else if (mutation.kind === 'truncate') out = out.slice(0, at(mutation.at));
    else if (mutation.kind === 'part-end') {
      const parts = out.split('*');
      const index = mutation.part % parts.length;
      const part = parts[index] ?? '';
      const end = part.endsWith('~2') ? part.length - 2 : part.length;
      parts[index] = `${part.slice(0, Math.max(0, end - 1))}${mutation.char}${part.slice(end)}`;
      out = parts.join('*');
    } else {
      const parts = out.split('*');
      const a = mutation.a % parts.length;
      const b = mutation.b % parts.length;
      [parts[a], parts[b]] = [parts[b] ?? '', parts[a] ?? ''];
      out = parts.join('*');
    }
  }
  return out;
}

describe('fuzz: session cookies', function () {
  this.timeout(fuzzTimeout(60_000));
  let sealed: string;
  let original: z.infer<typeof record>;

  before(async () => {
    original = { sub: 'user-alice', groups: ['staff', 'ops'], n: 7 };
    sealed = await seal(original, KEYS.session, 3600);
  });

  it('any Cookie header parses to a frozen record of strings, never throws', () => {
    const header = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc
        .array(fc.tuple(fc.string({ maxLength: 10 }), fc.string({ maxLength: 20 })), { maxLength: 6 })
        .map((pairs) => pairs.map(([n, v]) => `${n}=${v}`).join('; ')),
    );
    fc.assert(
      fc.property(fc.option(header, { nil: undefined }), (cookie) => {
        const cookies = readCookies(requestWithCookie(cookie));
        assert.ok(Object.isFrozen(cookies));
        for (const [name, value] of Object.entries(cookies)) {
          assert.equal(typeof value, 'string');
          assert.equal(typeof isGatehouseCookie(name, 'gatehouse'), 'boolean');
        }
      }),
      runs(500),
    );
  });

  it('arbitrary values never unseal and never throw', async () => {
    const shaped = fc.stringMatching(/^Fe26\.2\*[!-+\--:<-}]{1,120}~2$/);
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), shaped, fc.string({ maxLength: 5000 })), async (value) => {
        const result = await unseal(value, KEYS.session, record);
        assert.equal(result.ok, false);
        if (!result.ok) assert.ok(REASONS.has(result.reason), result.reason);
      }),
      runs(300),
    );
  });

  it('a mutated seal never unseals to a value', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(MUTATION, { minLength: 1, maxLength: 3 }), async (mutations) => {
        const value = mutate(sealed, mutations);
        fc.pre(value !== sealed);
        const result = await unseal(value, KEYS.session, record);
        assert.equal(result.ok, false, `${JSON.stringify(mutations)} → ${value}`);
        if (!result.ok) assert.ok(REASONS.has(result.reason));
      }),
      runs(300),
    );
  });

  it('no other spelling of the end of a base64url part unseals (all of them, not a sample)', async () => {
    for (const part of [3, 4, 7]) {
      for (const char of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=') {
        const value = mutate(sealed, [{ kind: 'part-end', part, char }]);
        if (value === sealed) continue;
        assert.equal((await unseal(value, KEYS.session, record)).ok, false, `part ${part} ending in ${char}`);
      }
    }
  });

  it('seal then unseal gives back what was sealed, only under the same key', async () => {
    await fc.assert(
      fc.asyncProperty(RECORD, async (data) => {
        const value = await seal(data, KEYS.session, 600);
        const back = await unseal(value, KEYS.session, record);
        assert.ok(back.ok);
        if (back.ok) assert.deepEqual(back.value, { ...data });
        // Another purpose (the sign-in transaction) and another secret are both refused.
        assert.equal((await unseal(value, KEYS.transaction, record)).ok, false);
        assert.equal((await unseal(value, OTHER_KEYS.session, record)).ok, false);
      }),
      runs(40),
    );
  });

  it('the unseal cache answers only for the exact value it was given', () => {
    fc.assert(
      fc.property(fc.array(MUTATION, { minLength: 1, maxLength: 3 }), fc.integer({ min: 1_000, max: 3_000 }), (mutations, now) => {
        const cache = new UnsealCache<{ readonly n: number }>(16);
        cache.set(sealed, { n: 1 }, 2_000, 1_000);
        const value = mutate(sealed, mutations);
        fc.pre(value !== sealed);
        assert.equal(cache.get(value, now), undefined);
        const hit = cache.get(sealed, now);
        if (now < 2_000) assert.deepEqual(hit, { n: 1 });
      }),
      runs(300),
    );
  });
});

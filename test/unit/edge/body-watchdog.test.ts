import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BodyLimitSettings } from '../../../src/config/body-limits-schema.ts';
import { BodyWatchdog, type BodyCutReason } from '../../../src/edge/body-watchdog.ts';

/** A request as the watchdog reads it: its socket's byte count, its buffer, whether it is whole. */
interface FakeRequest {
  complete: boolean;
  readableLength: number;
  readonly readableHighWaterMark: number;
  readonly headers: Record<string, string>;
  readonly socket: { bytesRead: number; destroyed: boolean };
}

const SETTINGS: BodyLimitSettings = { minRate: 100, window: 10, grace: 10, timeout: 120 };

/** One watched body on an injected clock: `run` advances it a quarter second at a time, sending `bytesPerSecond`. */
function watched(settings: BodyLimitSettings = SETTINGS) {
  let now = 0;
  const cuts: Array<{ reason: BodyCutReason; at: number }> = [];
  const watchdog = new BodyWatchdog({ now: () => now, tickMs: 1, onSlow: (_req, _res, reason) => cuts.push({ reason, at: now / 1000 }) });
  const req: FakeRequest = {
    complete: false,
    readableLength: 0,
    readableHighWaterMark: 16_384,
    headers: { 'content-length': '100000000' },
    socket: { bytesRead: 500, destroyed: false },
  };
  // Emits 'close' like a ServerResponse when the exchange is over.
  const res = Object.assign(new EventEmitter(), { writableFinished: false });
  watchdog.watch(req as unknown as IncomingMessage, res as unknown as ServerResponse, settings);
  return {
    req,
    res,
    cuts,
    watchdog,
    async run(seconds: number, bytesPerSecond: number): Promise<void> {
      for (let step = 0; step < seconds * 4 && cuts.length === 0; step += 1) {
        now += 250;
        req.socket.bytesRead += bytesPerSecond / 4;
        await sleep(2);
      }
    },
  };
}

describe('body watchdog: the rate over a window, after a grace period, on an injected clock', () => {
  it('lets go of a body as soon as its answer has gone out, without waiting for the next look', async () => {
    const body = watched();
    await body.run(1, 1);
    assert.equal(body.watchdog.size, 1);
    body.res.writableFinished = true;
    body.res.emit('close');
    assert.equal(body.watchdog.size, 0, 'let go at the close itself');
    await body.run(30, 1);
    assert.deepEqual(body.cuts, [], 'and never cut afterwards');
  });

  it('cuts a trickle once the grace period and one window have passed, not before', async () => {
    const body = watched();
    await body.run(9.5, 1);
    assert.equal(body.cuts.length, 0);
    await body.run(2, 1);
    assert.equal(body.cuts[0]?.reason, 'body_rate');
    assert.ok(body.cuts[0].at >= 10 && body.cuts[0].at <= 10.75, `cut at ${body.cuts[0].at} s`);
    assert.equal(body.watchdog.size, 0, 'let go once cut');
  });

  it('lets a body at the least rate run for as long as it lasts, bursts and short stalls included', async () => {
    const body = watched();
    for (let round = 0; round < 8; round += 1) {
      await body.run(1, 1000); // a burst
      await body.run(4, 0); // a stall shorter than the window
    }
    assert.equal(body.cuts.length, 0);
    body.req.complete = true;
    await body.run(0.5, 0);
    assert.equal(body.watchdog.size, 0, 'a whole body is no longer watched');
  });

  it('does not count time the reader was behind (a full buffer) against the client', async () => {
    const body = watched();
    await body.run(2, 1000);
    body.req.readableLength = body.req.readableHighWaterMark;
    await body.run(30, 0);
    assert.equal(body.cuts.length, 0, 'nothing read for 30 s, but the buffer was full');
    body.req.readableLength = 0;
    await body.run(9.5, 0);
    assert.equal(body.cuts.length, 0, 'the window started again when reading resumed');
    await body.run(2, 0);
    assert.equal(body.cuts[0]?.reason, 'body_rate');
  });

  it('cuts a body that is not whole by the timeout, however fast it comes; false turns either bound off', async () => {
    const fast = watched({ ...SETTINGS, timeout: 30 });
    await fast.run(40, 100_000);
    assert.equal(fast.cuts[0]?.reason, 'body_timeout');
    assert.ok(fast.cuts[0].at >= 30 && fast.cuts[0].at <= 30.5);
    const off = watched({ ...SETTINGS, minRate: false, timeout: false });
    await off.run(5, 0);
    assert.equal(off.watchdog.size, 0, 'with both bounds off, nothing is watched');
    const rateOnly = watched({ ...SETTINGS, timeout: false });
    await rateOnly.run(60, 200);
    assert.equal(rateOnly.cuts.length, 0);
    rateOnly.watchdog.close();
  });
});

import assert from 'node:assert/strict';
import { formatTimeLeft, startCountdown, waitingLine } from '../../../src/connector/countdown-line.ts';

function terminal(isTTY: boolean): { isTTY: boolean; written: string[]; write(text: string): void } {
  const written: string[] = [];
  return { isTTY, written, write: (text) => void written.push(text) };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('device login countdown line', function () {
  it('formats the time left as minutes and seconds, never below zero', function () {
    assert.equal(formatTimeLeft(545), '9:05 left');
    assert.equal(formatTimeLeft(59.2), '1:00 left');
    assert.equal(formatTimeLeft(-3), '0:00 left');
    assert.equal(waitingLine(545), 'Still waiting for the sign-in; 10 min left.');
    assert.equal(waitingLine(0), 'Still waiting for the sign-in; the code is about to expire.');
  });

  it('on a TTY redraws one line in place (carriage return, erase line) and ends it with the outcome', function () {
    const tty = terminal(true);
    const lines: string[] = [];
    let now = 1_000_000;
    const countdown = startCountdown({ expiresAt: now + 600_000, progress: (line) => lines.push(line), stream: tty, prefix: 'gc: ', now: () => now });
    now += 55_000;
    countdown.finish('Signed in.');
    countdown.finish('Stopped.');
    assert.deepEqual(tty.written, ['\r\x1b[2Kgc: Waiting for the sign-in: 10:00 left', '\r\x1b[2Kgc: Signed in.\n']);
    assert.deepEqual(lines, [], 'no plain lines on a terminal');
  });

  it('without a TTY prints a plain line per interval (no escape codes), then the outcome', async function () {
    const pipe = terminal(false);
    const lines: string[] = [];
    const countdown = startCountdown({ expiresAt: Date.now() + 180_000, progress: (line) => lines.push(line), stream: pipe, lineIntervalMs: 40 });
    await sleep(100);
    countdown.finish('The code expired.');
    assert.deepEqual(pipe.written, []);
    assert.ok(lines.length >= 2, lines.join('|'));
    for (const line of lines.slice(0, -1)) assert.equal(line, 'Still waiting for the sign-in; 3 min left.');
    assert.equal(lines.at(-1), 'The code expired.');
  });

  it('prints a plain line once a minute by default, not every few seconds', async function () {
    const lines: string[] = [];
    const countdown = startCountdown({ expiresAt: Date.now() + 600_000, progress: (line) => lines.push(line) });
    await sleep(5_200);
    countdown.finish('Signed in.');
    assert.deepEqual(lines, ['Signed in.']);
  });
});

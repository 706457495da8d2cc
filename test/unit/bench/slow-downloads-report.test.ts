import assert from 'node:assert/strict';
import { probeLine } from '../../../bench/lib/slow-downloads-report.ts';

describe('bench: slow downloads report', () => {
  it('gives the median and the slowest of the probes that were answered, and how many were', () => {
    assert.equal(
      probeLine({ label: 'another app', ms: [12.4, undefined, 30.6, 8, 1500] }),
      'A new 1 KiB request of another app every second of the hold, on a connection of its own: 4 of 5 answered, median 12 ms, slowest 1500 ms (TLS handshake included).',
    );
  });

  it('says so when no probe was answered', () => {
    assert.equal(probeLine({ label: 'the app', ms: [undefined, undefined] }), 'A new 1 KiB request of the app every second of the hold: none of 2 answered.');
  });
});

import assert from 'node:assert/strict';
import { parseStraceSummary } from '../../../bench/lib/strace-summary.ts';

describe('bench: strace -c summary', () => {
  it('reads the calls of each system call, with or without errors, and leaves the total and the noise out', () => {
    const text = [
      'strace: Process 4515 attached with 7 threads',
      '% time     seconds  usecs/call     calls    errors syscall',
      '------ ----------- ----------- --------- --------- ----------------',
      ' 96.11    1.762408         789      2233       380 futex',
      '  1.09    0.019968           2      9606           write',
      '  0.15    0.002792          48        58           getpid',
      '------ ----------- ----------- --------- --------- ----------------',
      '100.00    1.833713          30     59936       380 total',
      'strace: Process 4515 detached',
    ].join('\n');
    assert.deepEqual(parseStraceSummary(text), { futex: 2233, write: 9606, getpid: 58 });
  });

  it('gives nothing for output without a table', () => {
    assert.deepEqual(parseStraceSummary('strace: attach: ptrace(PTRACE_SEIZE, 1): Operation not permitted\n'), {});
  });
});

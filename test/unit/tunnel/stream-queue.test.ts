import assert from 'node:assert/strict';
import { AppShares } from '../../../src/tunnel/app-share.ts';
import { StreamQueue } from '../../../src/tunnel/stream-queue.ts';

const refuse = (kind: 'full' | 'timeout', app: string): Error => new Error(`${kind}:${app}`);

describe('the stream queue: one line per app, served in turn', function () {
  it("hands a free stream to the next app's line in turn, not to the oldest of one app's flood", async function () {
    const queue = new StreamQueue<number>({ maxLength: 100, maxWaitMs: 10_000 }, refuse);
    const served: string[] = [];
    const wait = (app: string, tag: string): Promise<void> =>
      queue.wait(
        app,
        () => {
          served.push(tag);
          return Promise.resolve();
        },
        undefined,
      );
    const waits = [...Array.from({ length: 5 }, (_, index) => wait('flood', `flood-${index}`)), wait('wiki', 'wiki-0'), wait('wiki', 'wiki-1')];
    for (let slot = 0; slot < 7; slot += 1) assert.ok(queue.serve(slot));
    await Promise.all(waits);
    assert.deepEqual(served, ['flood-0', 'wiki-0', 'flood-1', 'wiki-1', 'flood-2', 'flood-3', 'flood-4']);
    assert.equal(queue.length, 0);
  });

  it('skips the lines of apps at their share, and serves nobody when only those wait', async function () {
    const queue = new StreamQueue<number>({ maxLength: 100, maxWaitMs: 10_000 }, refuse);
    const served: string[] = [];
    const waits = ['flood', 'flood', 'wiki'].map((app) =>
      queue.wait(
        app,
        () => {
          served.push(app);
          return Promise.resolve();
        },
        undefined,
      ),
    );
    const belowShare = (app: string): boolean => app !== 'flood';
    assert.ok(queue.serve(1, belowShare));
    assert.equal(queue.serve(2, belowShare), false, 'only the flood waits, and it holds its share');
    assert.deepEqual(served, ['wiki']);
    assert.equal(queue.waitingFor('flood'), 2);
    queue.serve(3);
    queue.serve(4);
    await Promise.all(waits);
  });

  it("refuses at once past an app's part of the queue, while another app may still wait", async function () {
    const queue = new StreamQueue<number>({ maxLength: 10, maxWaitMs: 10_000 }, refuse);
    const take = (): Promise<void> => Promise.resolve();
    const flood = [queue.wait('flood', take, undefined, 2), queue.wait('flood', take, undefined, 2)];
    await assert.rejects(queue.wait('flood', take, undefined, 2), /full:flood/);
    const wiki = queue.wait('wiki', take, undefined, 2);
    assert.equal(queue.length, 3);
    for (let slot = 0; slot < 3; slot += 1) queue.serve(slot);
    await Promise.all([...flood, wiki]);
    assert.equal(queue.stats().outcomes.full, 1);
  });

  it('counts each wait in the histogram buckets, and leaves the refused-at-once out', async function () {
    const queue = new StreamQueue<number>({ maxLength: 1, maxWaitMs: 30 }, refuse);
    const take = (): Promise<void> => Promise.resolve();
    const expired = queue.wait('wiki', take, undefined);
    await assert.rejects(queue.wait('wiki', take, undefined), /full:wiki/);
    await assert.rejects(expired, /timeout:wiki/);
    const stats = queue.stats();
    assert.equal(
      stats.waitCounts.reduce((sum, count) => sum + count, 0),
      1,
    );
    assert.equal(stats.waitCounts[2], 1, 'the 30 ms wait is in the bucket above 25 ms, up to 100 ms');
  });
});

describe("an app's share of its group's streams", function () {
  it('applies the default share only where a group serves several apps, and an own share everywhere', function () {
    const shares = new AppShares();
    shares.configure([
      { id: 'wiki', connectorGroup: 'office' },
      { id: 'open', connectorGroup: 'office' },
      { id: 'alone', connectorGroup: 'lab' },
      { id: 'capped', connectorGroup: 'edge', share: { streams: 3 } },
      { id: 'quarter', connectorGroup: 'office', share: { percent: 25 } },
    ]);
    assert.equal(shares.limit('office', 'wiki', 2000), 1000);
    assert.equal(shares.limit('office', 'quarter', 2000), 500);
    assert.equal(shares.limit('lab', 'alone', 2000), Infinity);
    assert.equal(shares.limit('edge', 'capped', 2000), 3);
    assert.equal(shares.limit('office', 'wiki', 1), 1, 'never less than one stream');
    assert.equal(shares.limit('office', 'wiki', 0), Infinity, 'no tunnel: nothing to share');
  });

  it('counts a stream until it is released, once', function () {
    const shares = new AppShares();
    const release = shares.hold('office', 'wiki');
    shares.hold('office', 'wiki');
    assert.equal(shares.held('office', 'wiki'), 2);
    assert.equal(release(), true);
    assert.equal(release(), false);
    assert.equal(shares.held('office', 'wiki'), 1);
  });
});

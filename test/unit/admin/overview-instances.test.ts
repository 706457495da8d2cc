import assert from 'node:assert/strict';
import { overviewBody } from '../../../src/admin/console/pages/overview-page.ts';
import { groupInstances } from '../../../src/connector-plane/instance-overview.ts';

describe("admin console: the Overview's tunnels per gateway instance", () => {
  const connectors = [{ id: 'c1', group: 'default' }];

  it('shows each instance with its tunnels and streams, unknown for a record that does not say, stale marked; ids and URLs escaped', () => {
    const instances = groupInstances('default', connectors, [
      { id: 'gw-a', url: 'https://a.internal:8444', connectors: [{ id: 'c1', tunnels: 2, streams: 5 }] },
      { id: 'gw-old', url: 'https://old.internal:8444' },
      { id: 'gw-<b>"x"', url: 'https://b.internal/"><script>', connectors: [{ id: 'c1', tunnels: 1, streams: 0 }], stale: true },
    ]);
    const page = overviewBody([{ group: 'default', apps: ['wiki'], traffic: [], instances }], [], { status: 'ready' }, 0).toString();
    assert.match(page, /<li data-instance="gw-a" data-tunnels="2"[^>]*>\s*<code[^>]*>gw-a<\/code>: 2\s*<\/li>/);
    assert.match(page, /<li data-instance="gw-a" data-streams="5"/);
    assert.match(page, /<li data-instance="gw-old" data-tunnels="unknown"[^>]*>\s*<code[^>]*>gw-old<\/code>: unknown/);
    assert.match(page, /gw-&lt;b&gt;&quot;x&quot;<\/code>: 1 \(stale\)/);
    assert.doesNotMatch(page, /<script>|<b>/);
  });

  it("without per-instance rows (no connector service) it shows this instance's tunnels as before", () => {
    const page = overviewBody([{ group: 'default', apps: ['wiki'], traffic: [] }], [], { status: 'ready' }, 0).toString();
    assert.doesNotMatch(page, /data-instance=/);
  });
});

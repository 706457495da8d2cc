import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { request, type Agent } from 'undici';
import { inspectorUrl, memoryAfterGc } from '../../bench/lib/inspector-gc.ts';
import { patternSha256, patternStream } from '../../dev/lib/pattern-body.ts';
import { rssOf, type RunningConnector } from '../../dev/lib/connector-process.ts';
import { startConnectorStack, type ConnectorStack } from '../support/connector-stack.ts';
import type { Stack } from '../support/stack.ts';

const MiB = 1024 * 1024;

interface Memory {
  rss: number;
  retained: number;
}

// A full GC in this process (the gateway runs here), without starting mocha with --expose-gc.
setFlagsFromString('--expose-gc');
const fullGc = runInNewContext('gc') as () => void;

describe('streaming, failures and restarts through real connectors', function () {
  this.timeout(120_000);
  let setup: ConnectorStack;
  let stack: Stack;
  let agent: Agent;

  const start = (name: string, runEnv: NodeJS.ProcessEnv = {}): Promise<RunningConnector> => setup.startConnector(name, [], runEnv);

  before(async () => {
    setup = await startConnectorStack({ tmpPrefix: 'gatehouse-streaming-', agentConnections: 64 });
    ({ stack, agent } = setup);
  });
  after(async () => {
    await setup?.stop();
  });

  describe('one connector', () => {
    let connector: RunningConnector;
    before(async () => {
      // The inspector (loopback, random port) only lets the test force a full GC in the connector before it samples RSS.
      connector = await start('streaming', { NODE_OPTIONS: '--inspect=127.0.0.1:0' });
    });
    after(async () => {
      await connector.process.stop('SIGTERM');
    });

    it('downloads 256 MiB twice with the right bytes, and memory stays flat', async () => {
      const bytes = 256 * MiB;
      const expected = patternSha256(bytes);
      const download = async (): Promise<void> => {
        const response = await request(`${stack.urls.open}/download?bytes=${bytes}`, { dispatcher: agent });
        assert.equal(response.statusCode, 200);
        const hash = createHash('sha256');
        let received = 0;
        for await (const chunk of response.body) {
          received += (chunk as Buffer).length;
          hash.update(chunk as Buffer);
        }
        assert.equal(received, bytes);
        assert.equal(hash.digest('hex'), expected);
      };
      // After a full GC in both processes: what JavaScript retains (heap objects and Buffers) and RSS (which also keeps what the allocator cached).
      // Native memory outside Buffers (nghttp2, TLS) follows what is in flight on the live session, not what a transfer left behind, so it is not counted.
      // The client has its last byte a moment before both ends let go of the stream and the chunks still buffered for it:
      // read again after a pause until what is retained stops falling, so that a transfer's end is not mistaken for a leak
      // (a leak does not fall).
      const settled = async (read: () => NodeJS.MemoryUsage | Promise<NodeJS.MemoryUsage>): Promise<NodeJS.MemoryUsage> => {
        let last = await read();
        for (let attempt = 0; attempt < 10; attempt++) {
          await sleep(200);
          const next = await read();
          const fell = last.heapUsed + last.arrayBuffers - (next.heapUsed + next.arrayBuffers);
          last = next;
          if (fell < MiB) break;
        }
        return last;
      };
      const sample = async (): Promise<{ gateway: Memory; connector: Memory }> => {
        const connectorUsage = await settled(() => memoryAfterGc(inspectorUrl(connector.process.stderr())));
        const gatewayUsage = await settled(() => {
          fullGc();
          return process.memoryUsage();
        });
        return {
          gateway: { rss: gatewayUsage.rss, retained: gatewayUsage.heapUsed + gatewayUsage.arrayBuffers },
          connector: { rss: rssOf(connector.process.child.pid!), retained: connectorUsage.heapUsed + connectorUsage.arrayBuffers },
        };
      };
      const before = await sample();
      await download();
      const middle = await sample();
      await download();
      const end = await sample();
      const mib = (value: number): string => `${(value / MiB).toFixed(1)} MiB`;
      for (const side of ['connector', 'gateway'] as const) {
        // A second transfer of the same size must leave nothing more behind: a stream or its buffered chunks kept per transfer show here.
        const kept = end[side].retained - middle[side].retained;
        assert.ok(kept < 16 * MiB, `${side} retained ${mib(kept)} more after the second 256 MiB`);
        // RSS may rise to a plateau of native buffers the allocator keeps, under a bound.
        const grown = end[side].rss - before[side].rss;
        assert.ok(grown < 96 * MiB, `${side} RSS grew ${mib(grown)} over the two transfers`);
      }
    });

    it('uploads 256 MiB with the right bytes', async () => {
      const bytes = 256 * MiB;
      const response = await request(`${stack.urls.open}/upload`, {
        dispatcher: agent,
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes) },
        body: patternStream(bytes),
      });
      assert.equal(response.statusCode, 200);
      const result = (await response.body.json()) as { bytes: number; sha256: string };
      assert.equal(result.bytes, bytes);
      assert.equal(result.sha256, patternSha256(bytes));
    });

    it('delivers Server-Sent Events as they happen, not when the stream ends', async () => {
      const started = Date.now();
      const response = await request(`${stack.urls.open}/sse?count=3&every=700`, { dispatcher: agent });
      assert.equal(response.headers['content-type'], 'text/event-stream');
      const arrivals: number[] = [];
      for await (const chunk of response.body) {
        if (String(chunk).includes('event: tick')) arrivals.push(Date.now() - started);
      }
      assert.ok(arrivals.length >= 2, `events arrived: ${arrivals.join(', ')}`);
      // The first event (sent at ~700 ms) must not wait for the stream's end (~2100 ms).
      assert.ok((arrivals[0] ?? Infinity) < 1800, `first event after ${arrivals[0]} ms`);
    });

    it('tells the app when the client goes away mid-download', async () => {
      const response = await request(`${stack.urls.open}/download?bytes=${1024 * MiB}&abort=1`, { dispatcher: agent });
      let received = 0;
      for await (const chunk of response.body) {
        received += (chunk as Buffer).length;
        if (received > 8 * MiB) break;
      }
      response.body.destroy();
      for (let waited = 0; waited < 10_000 && !stack.backend.closedEarly.some((url) => url.includes('abort=1')); waited += 100) await sleep(100);
      assert.ok(
        stack.backend.closedEarly.some((url) => url.includes('abort=1')),
        'the backend saw its client close',
      );
    });
  });

  describe('failures and restarts', () => {
    it('ends a response cut by a dying connector, then answers 503, and nothing is left behind', async () => {
      const connector = await start('doomed');
      const response = await request(`${stack.urls.open}/download?bytes=${1024 * MiB}`, { dispatcher: agent });
      let received = 0;
      const reading = (async () => {
        for await (const chunk of response.body) received += (chunk as Buffer).length;
      })();
      while (received < 4 * MiB) await sleep(10);
      await connector.process.stop('SIGKILL');
      await assert.rejects(reading, 'the truncated response errors rather than looking complete');
      for (let waited = 0; waited < 15_000 && stack.gateway.connectors!.tunnels.size > 0; waited += 100) await sleep(100);
      assert.equal(stack.gateway.connectors!.tunnels.size, 0, 'the dead tunnels left the pool');
      const after = await request(`${stack.urls.open}/x`, { dispatcher: agent, headers: { accept: 'application/json' } });
      assert.equal(after.statusCode, 503);
      await after.body.dump();
    });

    it('fails over to the other connector of the group when one dies under load', async () => {
      const first = await start('pair-a');
      const second = await start('pair-b');
      let ok = 0;
      let failed = 0;
      let killedAt = -1;
      let okAfterKill = 0;
      const worker = async (): Promise<void> => {
        for (let index = 0; index < 40; index += 1) {
          const response = await request(`${stack.urls.open}/load`, { dispatcher: agent, headers: { accept: 'application/json' } }).catch(() => undefined);
          if (response) await response.body.dump();
          if (response?.statusCode === 200) {
            ok += 1;
            if (killedAt >= 0 && ok + failed > killedAt + 64) okAfterKill += 1;
          } else failed += 1;
          if (ok + failed === 200 && killedAt < 0) {
            killedAt = ok + failed;
            await first.process.stop('SIGKILL');
          }
        }
      };
      await Promise.all(Array.from({ length: 16 }, () => worker()));
      assert.ok(killedAt > 0);
      assert.ok(failed <= 32, `${failed} requests failed around the kill`);
      assert.ok(okAfterKill > 200, `${okAfterKill} requests served by the survivor`);
      assert.ok(stack.gateway.connectors!.tunnels.sessions().every((session) => session.connectorId === second.id));
      await second.process.stop('SIGTERM');
    });

    it('gets its connectors back on their own after the service restarts', async () => {
      await start('survivor');
      await stack.restartGateway();
      for (let waited = 0; waited < 30_000 && stack.gateway.connectors!.tunnels.size < 2; waited += 200) await sleep(200);
      assert.equal(stack.gateway.connectors!.tunnels.size, 2, 'both tunnels reconnected');
      const response = await request(`${stack.urls.open}/back`, { dispatcher: agent, headers: { accept: 'application/json' } });
      assert.equal(response.statusCode, 200);
      await response.body.dump();
    });
  });
});

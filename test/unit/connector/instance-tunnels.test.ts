import assert from 'node:assert/strict';
import { ConnectorConfigStore } from '../../../src/connector/config.ts';
import { InstanceTunnels } from '../../../src/connector/instance-tunnels.ts';
import type { ConnectorLink } from '../../../src/connector/link.ts';
import { createLogger } from '../../../src/logging/logger.ts';

function document(version: number, instances?: Array<{ id: string; url: string }>): Record<string, unknown> {
  return {
    version,
    connectorId: 'c-1',
    group: 'default',
    apps: [],
    heartbeatIntervalSeconds: 30,
    renewal: { ageSeconds: 2_592_000, issuedAt: '2026-01-01T00:00:00.000Z', due: false },
    ...(instances ? { instances } : {}),
  };
}

const A = { id: 'gw-a', url: 'https://gw-a.internal:8444' };
const B = { id: 'gw-b', url: 'https://gw-b.internal:8444' };
const C = { id: 'gw-c', url: 'https://gw-c.internal:8444' };

describe('connector: tunnels to every gateway instance', () => {
  function start(): { store: ConnectorConfigStore; live: () => string[]; stop: () => Promise<void>; kept: string[] } {
    const store = new ConnectorConfigStore('c-1');
    const running = new Map<string, AbortSignal>();
    const kept: string[] = [];
    const tunnels = new InstanceTunnels({
      supervisor: {
        keep: (link: ConnectorLink, stop: AbortSignal) => {
          running.set(link.name, stop);
          kept.push(link.name);
          return new Promise<void>((resolve) => stop.addEventListener('abort', () => resolve(), { once: true }));
        },
      },
      config: store,
      count: 2,
      makeLink: (index, instance) => ({ name: instance ? `tunnel-${index}@${instance.id}` : `tunnel-${index}`, run: () => Promise.resolve() }),
      log: createLogger(),
    });
    const stopAll = new AbortController();
    const done = tunnels.run(stopAll.signal);
    return {
      store,
      kept,
      live: () => [...running].filter(([, signal]) => !signal.aborted).map(([name]) => name),
      stop: async () => {
        stopAll.abort();
        // The fake links end only when told to; the real supervisor ends them on the connector's own signal.
        await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 10))]);
      },
    };
  }

  it('dials no tunnel before a configuration is applied: a stream it took would be refused as an unknown app', async () => {
    const { store, live, stop, kept } = start();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(kept, [], 'nothing dialled without a configuration');
    store.apply(document(1));
    assert.deepEqual(live(), ['tunnel-1', 'tunnel-2'], 'the first configuration (no instance list): the registered URL');
    await stop();
  });

  it('dials the registered URL until the service lists several instances, then each instance, adding and dropping as they come and go', async () => {
    const { store, live, stop, kept } = start();
    assert.deepEqual(live(), [], 'before any configuration: no tunnel');
    store.apply(document(1, [A]));
    assert.deepEqual(live(), ['tunnel-1', 'tunnel-2'], 'one instance: the registered URL');
    store.apply(document(1, [A]));
    assert.deepEqual(kept, ['tunnel-1', 'tunnel-2'], 'the same list again: nothing redialled');
    store.apply(document(1, [A, B]));
    assert.deepEqual(live().sort(), ['tunnel-1@gw-a', 'tunnel-1@gw-b', 'tunnel-2@gw-a', 'tunnel-2@gw-b']);
    store.apply(document(1, [A, B, C]));
    assert.deepEqual(live().sort(), ['tunnel-1@gw-a', 'tunnel-1@gw-b', 'tunnel-1@gw-c', 'tunnel-2@gw-a', 'tunnel-2@gw-b', 'tunnel-2@gw-c']);
    assert.equal(kept.filter((name) => name.endsWith('@gw-a')).length, 2, 'the tunnels to A were left alone when C came');
    store.apply(document(2, [A, C]));
    assert.deepEqual(live().sort(), ['tunnel-1@gw-a', 'tunnel-1@gw-c', 'tunnel-2@gw-a', 'tunnel-2@gw-c'], 'B left: its tunnels drained');
    store.apply(document(1, [B]));
    assert.deepEqual(live().sort(), ['tunnel-1@gw-a', 'tunnel-1@gw-c', 'tunnel-2@gw-a', 'tunnel-2@gw-c'], 'an answer of an older version changes nothing');
    await stop();
  });

  it('takes a new instance list from a document of the same version, never from an older one', () => {
    const store = new ConnectorConfigStore('c-1');
    const heard: Array<number | undefined> = [];
    store.onInstances((instances) => heard.push(instances?.length));
    store.apply(document(3, [A]));
    assert.equal(store.apply(document(3, [A, B])).applied, false);
    assert.deepEqual(store.current?.instances, [A, B]);
    store.apply(document(2, [C]));
    assert.deepEqual(store.current?.instances, [A, B]);
    assert.deepEqual(heard, [1, 2]);
  });
});

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Writable } from 'node:stream';
import { parseGatewayConfig } from '../../../src/config/parse.ts';
import type { GatewayConfigInput } from '../../../src/config/schema.ts';
import { GatehouseConfigError } from '../../../src/errors/index.ts';
import { createGateway } from '../../../src/gateway/create-gateway.ts';
import { createLogger } from '../../../src/logging/logger.ts';
import { MemorySessionStore } from '../../../src/session/session-store.ts';

const SECRET = 'a-very-long-session-secret-of-at-least-32-chars';

function valid(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    identityProvider: { issuer: 'https://login.example.com', clientId: 'gatehouse', clientSecret: 's3cret' },
    session: { secrets: [{ id: 1, secret: SECRET }] },
    apps: [{ id: 'wiki', externalUrl: 'https://wiki.example.com', internalUrl: 'http://10.0.0.5:8080' }],
    ...extra,
  };
}

function issuesOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof GatehouseConfigError) return [...error.issues];
    throw error;
  }
  return [];
}

describe('config: store.url', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-store-config-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('defaults to the state database in connectors.stateDir, else to memory', () => {
    assert.equal(parseGatewayConfig(valid(), { baseDir: dir }).store.url, 'memory:');
    const withState = parseGatewayConfig(valid({ connectors: { stateDir: 'state' } }), { baseDir: dir });
    assert.equal(withState.store.url, `sqlite:${join(dir, 'state', 'gatehouse.db')}`);
  });

  it('reads a relative SQLite path from the config folder, and survives a second parse unchanged', () => {
    const config = parseGatewayConfig(valid({ store: { url: 'sqlite:data/g.db' } }), { baseDir: dir });
    assert.equal(config.store.url, `sqlite:${join(dir, 'data', 'g.db')}`);
    assert.equal(parseGatewayConfig(config).store.url, config.store.url);
    assert.equal(parseGatewayConfig(valid({ store: { url: 'memory:' }, connectors: { stateDir: 'state' } }), { baseDir: dir }).store.url, 'memory:');
  });

  it('takes redis:// and rediss:// URLs as they are, and refuses malformed ones', () => {
    for (const url of ['redis://cache.internal:6379', 'rediss://app:s3cret@cache.internal:6380/2', 'redis://127.0.0.1']) {
      assert.equal(parseGatewayConfig(valid({ store: { url } }), { baseDir: dir }).store.url, url);
    }
    assert.match(issuesOf(() => parseGatewayConfig(valid({ store: { url: 'redis://cache.internal:6379/sessions' } })))[0] ?? '', /database must be a number/);
    assert.match(issuesOf(() => parseGatewayConfig(valid({ store: { url: 'redis:///0' } })))[0] ?? '', /needs a host/);
    assert.match(issuesOf(() => parseGatewayConfig(valid({ store: { url: 'redis://h:6379/0?x=1' } })))[0] ?? '', /no query/);
  });

  it('refuses other schemes, naming the ones this version supports', () => {
    assert.deepEqual(
      issuesOf(() => parseGatewayConfig(valid({ store: { url: 'postgres://db.internal:5432/gatehouse' } }))),
      [
        'store.url: the "postgres:" store is not supported by this version: use "sqlite:<path>" (e.g. sqlite:/var/lib/gatehouse/gatehouse.db), "redis://host:port" (or "rediss://" for TLS), "redis+sentinel://host:port,host:port/<master>", "redis+cluster://host:port,host:port" or "memory:"',
      ],
    );
    assert.match(issuesOf(() => parseGatewayConfig(valid({ store: { url: 'sqlite:' } })))[0] ?? '', /store\.url: "sqlite:" needs a file path/);
    assert.match(
      issuesOf(() => parseGatewayConfig(valid({ store: { url: 'sqlite://host/x.db' } })))[0] ?? '',
      /store\.url: write a SQLite file as sqlite:<path>/,
    );
    assert.match(issuesOf(() => parseGatewayConfig(valid({ store: { url: '/var/lib/g.db' } })))[0] ?? '', /store\.url: "\/var\/lib\/g\.db" is not a store URL/);
  });

  it('keeps the connector plane in the same database as the sessions when store.url names another file', async () => {
    const gateway = createGateway(
      valid({ store: { url: 'sqlite:shared/state.db' }, connectors: { listen: { host: '127.0.0.1', port: 0 }, stateDir: 'connectors' } }) as GatewayConfigInput,
      { baseDir: dir, audit: [] },
    );
    try {
      await gateway.connectors?.init();
    } finally {
      await gateway.close();
    }
    const db = new DatabaseSync(join(dir, 'shared', 'state.db'), { readOnly: true });
    try {
      const tables = db
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table'")
        .all()
        .map((row) => row['name']);
      assert.ok(tables.includes('kv'), 'the connector plane’s table');
      assert.ok(tables.includes('session_revoked'), 'the sessions’ tables');
      assert.ok((db.prepare('SELECT count(*) AS n FROM kv').get()?.['n'] as number) > 0, 'the connector CA was written there');
    } finally {
      db.close();
    }
    assert.equal(existsSync(join(dir, 'connectors', 'gatehouse.db')), false);
  });

  it('warns once at start when sessions are kept in memory, and not when they are on disk or passed in', async () => {
    const warnings = async (extra: Record<string, unknown>, options: { sessionStore?: MemorySessionStore } = {}): Promise<string[]> => {
      const lines: string[] = [];
      const destination = new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(chunk.toString());
          done();
        },
      });
      const gateway = createGateway(valid(extra) as GatewayConfigInput, {
        baseDir: dir,
        audit: [],
        logger: createLogger({ level: 'warn', destination }),
        ...options,
      });
      await gateway.close();
      return lines.filter((line) => line.includes('do not survive a restart'));
    };
    assert.equal((await warnings({})).length, 1);
    assert.match((await warnings({}))[0] ?? '', /store\.url/);
    assert.equal((await warnings({ store: { url: 'sqlite:state/g.db' } })).length, 0);
    assert.ok(existsSync(join(dir, 'state', 'g.db')), 'the gateway opened the configured file');
    assert.equal((await warnings({}, { sessionStore: new MemorySessionStore() })).length, 0);
  });
});

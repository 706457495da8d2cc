import type { Adapter, AdapterPayload } from 'oidc-provider';

interface Entry {
  payload: AdapterPayload;
  expiresAt: number;
}

interface Store {
  entries: Map<string, Entry>;
  // Secondary indexes oidc-provider looks records up by.
  sessionKeyByUid: Map<string, string>;
  deviceKeyByUserCode: Map<string, string>;
  keysByGrantId: Map<string, Set<string>>;
  writes: number;
}

// Token-like records that must disappear together when their grant is revoked.
const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'PreAuthorizedCode']);

const SWEEP_EVERY_WRITES = 500;

function removeIndexes(store: Store, key: string, payload: AdapterPayload): void {
  if (payload.uid !== undefined && store.sessionKeyByUid.get(payload.uid) === key) {
    store.sessionKeyByUid.delete(payload.uid);
  }
  if (payload.userCode !== undefined && store.deviceKeyByUserCode.get(payload.userCode) === key) {
    store.deviceKeyByUserCode.delete(payload.userCode);
  }
  if (payload.grantId !== undefined) {
    const members = store.keysByGrantId.get(payload.grantId);
    members?.delete(key);
    if (members?.size === 0) store.keysByGrantId.delete(payload.grantId);
  }
}

function removeEntry(store: Store, key: string): void {
  const entry = store.entries.get(key);
  if (!entry) return;
  store.entries.delete(key);
  removeIndexes(store, key, entry.payload);
}

// Expired records are dropped when read and in periodic sweeps, so no timer
// keeps the event loop alive after the provider closes.
function read(store: Store, key: string): AdapterPayload | undefined {
  const entry = store.entries.get(key);
  if (!entry) return undefined;
  if (entry.expiresAt <= Date.now()) {
    removeEntry(store, key);
    return undefined;
  }
  return entry.payload;
}

function sweep(store: Store): void {
  const now = Date.now();
  for (const [key, entry] of store.entries) {
    if (entry.expiresAt <= now) removeEntry(store, key);
  }
}

class MemoryAdapter implements Adapter {
  readonly #model: string;
  readonly #store: Store;

  constructor(model: string, store: Store) {
    this.#model = model;
    this.#store = store;
  }

  #key(id: string): string {
    return `${this.#model}:${id}`;
  }

  upsert(id: string, payload: AdapterPayload, expiresIn: number | undefined): Promise<void> {
    const store = this.#store;
    const key = this.#key(id);
    removeEntry(store, key);
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
    store.entries.set(key, { payload, expiresAt });
    if (this.#model === 'Session' && payload.uid !== undefined) {
      store.sessionKeyByUid.set(payload.uid, key);
    }
    if (payload.userCode !== undefined) {
      store.deviceKeyByUserCode.set(payload.userCode, key);
    }
    if (GRANTABLE.has(this.#model) && payload.grantId !== undefined) {
      let members = store.keysByGrantId.get(payload.grantId);
      if (!members) {
        members = new Set();
        store.keysByGrantId.set(payload.grantId, members);
      }
      members.add(key);
    }
    store.writes += 1;
    if (store.writes % SWEEP_EVERY_WRITES === 0) sweep(store);
    return Promise.resolve();
  }

  find(id: string): Promise<AdapterPayload | undefined> {
    return Promise.resolve(read(this.#store, this.#key(id)));
  }

  findByUid(uid: string): Promise<AdapterPayload | undefined> {
    const key = this.#store.sessionKeyByUid.get(uid);
    return Promise.resolve(key === undefined ? undefined : read(this.#store, key));
  }

  findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    const key = this.#store.deviceKeyByUserCode.get(userCode);
    return Promise.resolve(key === undefined ? undefined : read(this.#store, key));
  }

  consume(id: string): Promise<void> {
    const payload = read(this.#store, this.#key(id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    return Promise.resolve();
  }

  destroy(id: string): Promise<void> {
    removeEntry(this.#store, this.#key(id));
    return Promise.resolve();
  }

  revokeByGrantId(grantId: string): Promise<void> {
    const members = this.#store.keysByGrantId.get(grantId);
    if (members) {
      for (const key of [...members]) removeEntry(this.#store, key);
      this.#store.keysByGrantId.delete(grantId);
    }
    return Promise.resolve();
  }
}

/**
 * A storage adapter private to one provider instance. oidc-provider's built-in
 * one warns on every start, and two providers in one test process must not see
 * each other's sessions.
 */
export function createMemoryAdapter(): (model: string) => Adapter {
  const store: Store = {
    entries: new Map(),
    sessionKeyByUid: new Map(),
    deviceKeyByUserCode: new Map(),
    keysByGrantId: new Map(),
    writes: 0,
  };
  return (model) => new MemoryAdapter(model, store);
}

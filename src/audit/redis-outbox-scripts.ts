/**
 * The Redis keys and Lua scripts of the audit outbox (redis-outbox.ts). A
 * script runs alone in Redis, so a lease check and the moves it guards
 * cannot interleave with another instance's.
 */

export interface OutboxKeys {
  /** A set of every instance id with an outbox, for the others to find the dead among them. */
  readonly owners: string;
  readonly lease: string;
  readonly batch: string;
  readonly waiting: string;
  readonly adopted: string;
}

/** One hash tag, `{<namespace>:audit-outbox}`, for every instance's outbox: on a Redis Cluster an adoption moves events between them in one script. */
export function outboxKeys(namespace: string, instanceId: string): OutboxKeys {
  const tag = `{${namespace}:audit-outbox}`;
  const base = `${tag}:${instanceId}`;
  return {
    owners: `${tag}-instances`,
    lease: `${base}:lease`,
    batch: `${base}:batch`,
    waiting: `${base}:waiting`,
    adopted: `${base}:adopted`,
  };
}

/** KEYS waiting, batch; ARGV count: moves up to `count` events from the head of waiting to the batch. */
export const TAKE = `for i = 1, tonumber(ARGV[1]) do
  if not redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT') then break end
end
return 1`;

/** KEYS lease, owners; ARGV token, lease ms, instance id: takes or renews the lease; 1 when it was still this holder's. */
export const RENEW = `local current = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
if current == ARGV[1] then return 1 end
return 0`;

/** KEYS lease; ARGV token: lets the lease go, if still this holder's. */
export const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** KEYS adopted, batch, waiting: what an instance left under its id, oldest first (read only: the full write that follows replaces it). */
export const LOAD = `local all = {}
for i = 1, 3 do
  for _, item in ipairs(redis.call('LRANGE', KEYS[i], 0, -1)) do all[#all + 1] = item end
end
return all`;

/**
 * KEYS their lease, adopted, batch, waiting, my adopted, owners; ARGV room,
 * their id: when their lease has lapsed, moves up to `room` of their events,
 * oldest first, to my adopted list, and forgets them once nothing is left.
 */
export const ADOPT = `if redis.call('EXISTS', KEYS[1]) == 1 then return {} end
local moved = {}
local room = tonumber(ARGV[1])
for i = 2, 4 do
  while #moved < room do
    local item = redis.call('LMOVE', KEYS[i], KEYS[5], 'LEFT', 'RIGHT')
    if not item then break end
    moved[#moved + 1] = item
  end
end
if redis.call('EXISTS', KEYS[2], KEYS[3], KEYS[4]) == 0 then redis.call('SREM', KEYS[6], ARGV[2]) end
return moved`;

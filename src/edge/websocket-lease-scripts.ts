/**
 * The WebSocket leases in Redis: one sorted set per session and per client
 * address, each member one open socket (`<instance>:<serial>`) scored by the
 * time its lease ends. Every key carries the hash tag `{gatehouse:ws}`, so on
 * a Redis Cluster they share a slot and one script can admit against a
 * session and an address at once. Times are Redis's own (TIME), so the
 * instances' clocks need not agree.
 */
import { createHash } from 'node:crypto';
import type { RedisClient } from '../store/redis-connection.ts';
import type { WebSocketCapReason } from './websocket-caps.ts';

const TAG = '{gatehouse:ws}';

/** The set of a client address's sockets (its /64 for IPv6). */
export function addressLeaseKey(address: string): string {
  return `${TAG}:ip:${address}`;
}

/** The set of a session's sockets. */
export function sessionLeaseKey(sessionId: string): string {
  return `${TAG}:session:${sessionId}`;
}

const NOW = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
`;

/** A set lives as long as its longest lease: its members' leases are never longer than the key. */
const HOLD = `
local function hold(key, member, lease)
  redis.call('ZADD', key, now + lease, member)
  if redis.call('PTTL', key) < lease then redis.call('PEXPIRE', key, lease) end
end
`;

/**
 * KEYS: the address's set, then the session's (none for a socket without a session). ARGV: member, lease (ms),
 * the cap per address, the cap per session. Drops ended leases, then adds the member to every set if each is under
 * its cap, or adds nothing and names the bound met (session first, as the local count checks).
 */
export const ADMIT = `${NOW}${HOLD}
local lease = tonumber(ARGV[2])
for i = 1, #KEYS do redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now) end
if #KEYS > 1 and redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then return 'websockets_per_session' end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 'websockets_per_ip' end
for i = 1, #KEYS do hold(KEYS[i], ARGV[1], lease) end
return 0
`;

/**
 * KEYS: sets; ARGV: the lease (ms), then the member for each key in order. Extends each lease, and adds back one
 * the set lost (Redis restarted, or this instance was cut off longer than a lease): an open socket counts.
 */
export const RENEW = `${NOW}${HOLD}
local lease = tonumber(ARGV[1])
for i = 1, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
  hold(KEYS[i], ARGV[i + 1], lease)
end
return #KEYS
`;

const SHAS = new Map([ADMIT, RENEW].map((script) => [script, createHash('sha1').update(script).digest('hex')]));

/** Runs a script by its digest, sending it whole once Redis says it does not know it (Redis forgets scripts on restart). */
export async function runScript(client: RedisClient, script: string, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
  try {
    return await client.evalsha(SHAS.get(script)!, keys.length, ...keys, ...args);
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('NOSCRIPT')) return client.eval(script, keys.length, ...keys, ...args);
    throw error;
  }
}

/** The ADMIT script's answer as a refusal, or undefined when the lease was taken. */
export function admitAnswer(answer: unknown): WebSocketCapReason | undefined {
  if (answer === 'websockets_per_session' || answer === 'websockets_per_ip') return answer;
  if (answer === 0) return undefined;
  throw new Error(`unexpected answer from the WebSocket lease script: ${String(answer)}`);
}

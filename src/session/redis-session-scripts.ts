/**
 * The session store's Redis keys and its writes that must be atomic. The
 * revocation index is a sorted set scored by expiry whose members are
 * `<issuedAt>:<sessionId>`, so one range read gives an instance everything
 * its local copy needs, and an eviction knows the floor it must raise
 * without a second read.
 */

export interface SessionKeys {
  /** Sorted set: `<issuedAt>:<sessionId>` scored by `until`. */
  readonly revokedIndex: string;
  /** Prefix of the per-session key (value: issuedAt, expiring at `until`). */
  readonly revoked: string;
  /** Sessions issued at or before this are refused (after the index overflowed). No expiry. */
  readonly floor: string;
  /** Prefix of the consumed sign-in state keys. */
  readonly state: string;
  /** Prefix of the server-side data keys. */
  readonly side: string;
}

/**
 * Every session key carries one hash tag, `{<prefix>session}`: on a Redis
 * Cluster they share a slot, so a script may touch several of them.
 */
export function sessionKeys(prefix: string): SessionKeys {
  const tag = `{${prefix}session}`;
  return {
    revokedIndex: `${tag}:revoked`,
    revoked: `${tag}:revoked:`,
    floor: `${tag}:revoked-floor`,
    state: `${tag}:state:`,
    side: `${tag}:side:`,
  };
}

/**
 * Records a revocation, drops the session's side data, and keeps the index
 * within its bound: what it pushes out (the soonest to expire) moves the
 * floor up. Returns the new floor when it rose, else false.
 * KEYS: index, revoked key, side key, floor. ARGV: sessionId, issuedAt, until, now, max, revoked prefix.
 */
export const REVOKE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[4])
redis.call('SET', KEYS[2], ARGV[2], 'EXAT', ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2] .. ':' .. ARGV[1])
redis.call('DEL', KEYS[3])
local over = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[5])
if over <= 0 then return false end
local stored = redis.call('GET', KEYS[4])
local floor = stored and tonumber(stored) or nil
local raised = false
local popped = redis.call('ZPOPMIN', KEYS[1], over)
for i = 1, #popped, 2 do
  local issued, sid = string.match(popped[i], '^([^:]*):(.*)$')
  redis.call('DEL', ARGV[6] .. sid)
  local at = tonumber(issued)
  if at and (not floor or at > floor) then
    floor = at
    raised = true
  end
end
if not raised then return false end
redis.call('SET', KEYS[4], tostring(floor))
return tostring(floor)
`;

/** Raises the floor to ARGV[1] unless it is higher already. KEYS: floor. */
export const RAISE_FLOOR = `
local stored = redis.call('GET', KEYS[1])
if stored and tonumber(stored) >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1
`;

/** A member of the revocation index, read back. */
export function parseRevokedMember(member: string): { readonly sessionId: string; readonly issuedAt: number } | undefined {
  const colon = member.indexOf(':');
  if (colon <= 0) return undefined;
  const issuedAt = Number(member.slice(0, colon));
  return Number.isFinite(issuedAt) ? { sessionId: member.slice(colon + 1), issuedAt } : undefined;
}

/** What `session.revoked` carries between instances. */
export interface RevokedMessage {
  readonly sid: string;
  readonly iat: number;
  readonly until: number;
  /** Set when this revocation raised the floor. */
  readonly floor?: number;
}

export function parseRevokedMessage(message: string): RevokedMessage | undefined {
  try {
    const parsed = JSON.parse(message) as Partial<RevokedMessage>;
    if (typeof parsed.sid !== 'string' || typeof parsed.iat !== 'number' || typeof parsed.until !== 'number') return undefined;
    return {
      sid: parsed.sid,
      iat: parsed.iat,
      until: parsed.until,
      ...(typeof parsed.floor === 'number' ? { floor: parsed.floor } : {}),
    };
  } catch {
    return undefined;
  }
}

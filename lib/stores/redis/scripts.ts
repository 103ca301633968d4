import { createHash } from 'node:crypto'
import { RETIRED_RECORD_LIMIT } from '../../domain/retention.js'
import type { RedisClient } from './client.js'

/** A Lua script, sent by its SHA-1 and whole only when the server does not know it yet. */
export interface RedisScript {
  source: string
  sha: string
}

export function script (source: string): RedisScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') }
}

/**
 * Compare-and-set of a project's document, announced in the same script. KEYS: the project's hash, its sorted
 * set of retired keys. ARGV: the version the hash held when read (0 for none), the new version, the document
 * (JSON), the channel ('' for a write not announced), the message, the instant up to which retired keys are
 * forgotten ('' for a write that retires nothing), then score and member pairs of the retired keys (the instant each
 * stopped verifying, its record as JSON). Writes only if the hash still holds the version read, adds the
 * retired keys and trims the set to the newest ${RETIRED_RECORD_LIMIT}, and publishes the message (the project,
 * its new version and revision: see redis-store.ts). Returns the
 * new version, or -1 when another writer came first.
 * It decodes nothing and loops over nothing, so that it never becomes slow: SLOWLOG would log its arguments,
 * and the document carries the current keys whole. Trimming a sorted set by score and by rank costs the
 * logarithm of its size plus what it removes.
 */
export const COMMIT = script(`
if tonumber(redis.call('HGET', KEYS[1], 'version') or '0') ~= tonumber(ARGV[1]) then return -1 end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'state', ARGV[3])
if ARGV[6] ~= '' then
  if #ARGV > 6 then redis.call('ZADD', KEYS[2], unpack(ARGV, 7)) end
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[6])
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -${RETIRED_RECORD_LIMIT + 1})
end
if ARGV[4] ~= '' then redis.call('PUBLISH', ARGV[4], ARGV[5]) end
return tonumber(ARGV[2])
`)

/**
 * Records an announced change of a project in its namespace's change log, for the catch-up poll. KEYS: the
 * namespace's sequence (a counter), its change log (a sorted set: each project once, scored by the sequence
 * number of its last change) and, per project, "<sequence number>:<version>" of the last change this release
 * recorded (a hash; 0.2 records none). ARGV: the project, the version. One member a project, so the log stays
 * as small as the namespace: nothing to trim.
 */
export const RECORD = script(`
local sequence = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], sequence, ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], sequence .. ':' .. ARGV[2])
return 1
`)

/**
 * The most changes one poll reads. After a burst (20,000 changes while the listening connection was cut) the
 * polls that follow read them in turn, this many each, instead of one reply with all of them.
 */
export const POLL_LIMIT = 1000

/**
 * What changed since a sequence number. KEYS: as RECORD's. ARGV: the last sequence number seen, or '' for
 * none yet. Returns the sequence number to go on from and, after one, the first ${POLL_LIMIT} projects recorded
 * since, in the order of their records, each followed by the version its last change wrote ('' when that change
 * recorded none, as 0.2 does), read together in one atomic step. The sequence number to go on from is the
 * counter now, or the last one read when there were more.
 */
export const POLL = script(`
local now = redis.call('GET', KEYS[1]) or '0'
if ARGV[1] == '' then return { now, {} } end
local changed = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[1], now, 'WITHSCORES', 'LIMIT', 0, ${POLL_LIMIT})
local answer = {}
for index = 1, #changed, 2 do
  local project, sequence = changed[index], changed[index + 1]
  local recorded = redis.call('HGET', KEYS[3], project) or ''
  local prefix = sequence .. ':'
  answer[index] = project
  answer[index + 1] = string.sub(recorded, 1, #prefix) == prefix and string.sub(recorded, #prefix + 1) or ''
end
if #changed == ${2 * POLL_LIMIT} then now = changed[#changed] end
return { now, answer }
`)

/** Runs `script` by EVALSHA, sending it whole when the server forgot it (a restart, SCRIPT FLUSH, a failover). */
export async function runScript<T = number> (client: RedisClient, { source, sha }: RedisScript, keys: string[], args: Array<string | number>): Promise<T> {
  try {
    return await client.evalsha(sha, keys.length, ...keys, ...args) as T
  } catch (error) {
    if (!String((error as Error).message).startsWith('NOSCRIPT')) throw error
    return await client.eval(source, keys.length, ...keys, ...args) as T
  }
}

import { REFUSED_USAGE_CODES, type RefusedUsageCode, type UsageBatch, type UsageHistory } from '../../domain/usage-history.js'
import type { RedisClient } from './client.js'
import { runScript, script } from './scripts.js'

/**
 * Adds a usage batch to a project's history and trims it, atomically. KEYS: the history hash, its index of hours
 * (a sorted set of the hash's hour fields, scored by hour), its index of keys (name:fingerprint, scored by last
 * use). ARGV: keepHoursFrom, keepKeysFrom, and the rows as JSON: `h` [field, hour, requests], `k` [name:fingerprint,
 * lastUsedAt, previousRequests], numbers as strings. Hour fields are `h:<hour>:<kind>:<name>:<fingerprint>`
 * (kind `verified` or the refusal's code, name empty for a refusal); a key's fields `l:<name>:<fingerprint>` (last
 * use) and `p:<name>:<fingerprint>` (requests as a previous key). It loops over the batch's rows and over what it
 * forgets, never over the whole history.
 */
export const RECORD_USAGE = script(`
local batch = cjson.decode(ARGV[3])
for _, row in ipairs(batch.h) do
  redis.call('HINCRBY', KEYS[1], row[1], row[3])
  redis.call('ZADD', KEYS[2], row[2], row[1])
end
for _, row in ipairs(batch.k) do
  local last = 'l:' .. row[1]
  if tonumber(row[2]) > tonumber(redis.call('HGET', KEYS[1], last) or '-1') then
    redis.call('HSET', KEYS[1], last, row[2])
    redis.call('ZADD', KEYS[3], row[2], row[1])
  end
  redis.call('HINCRBY', KEYS[1], 'p:' .. row[1], row[3])
end
for _, field in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[1])) do redis.call('HDEL', KEYS[1], field) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[1])
for _, key in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[2])) do redis.call('HDEL', KEYS[1], 'l:' .. key, 'p:' .. key) end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[2])
return 1
`)

const VERIFIED = 'verified'

/** A project's usage history in Redis: one hash and two sorted sets under the project's hash tag. */
export function redisUsage (client: RedisClient, tagOf: (project: string) => string): {
  record: (project: string, batch: UsageBatch) => Promise<void>
  load: (project: string) => Promise<UsageHistory>
} {
  const keysOf = (project: string): string[] => [`${tagOf(project)}:usage`, `${tagOf(project)}:usage:hours`, `${tagOf(project)}:usage:keys`]
  return {
    async record (project, batch) {
      const h = [
        ...batch.verified.map((row) => [`h:${row.hour}:${VERIFIED}:${row.name}:${row.fingerprint}`, String(row.hour), String(row.requests)]),
        ...batch.refused.map((row) => [`h:${row.hour}:${row.code}::${row.fingerprint}`, String(row.hour), String(row.requests)])
      ]
      const k = batch.keys.map((row) => [`${row.name}:${row.fingerprint}`, String(row.lastUsedAt), String(row.previousRequests)])
      await runScript(client, RECORD_USAGE, keysOf(project), [batch.keepHoursFrom, batch.keepKeysFrom, JSON.stringify({ h, k })])
    },
    async load (project) {
      const fields = await client.hgetall(keysOf(project)[0])
      const history: UsageHistory = { verified: [], refused: [], keys: [] }
      for (const [field, value] of Object.entries(fields)) {
        const parts = field.split(':')
        if (parts[0] === 'h' && parts[2] === VERIFIED) {
          history.verified.push({ hour: Number(parts[1]), name: parts[3], fingerprint: parts[4], requests: Number(value) })
        } else if (parts[0] === 'h' && REFUSED_USAGE_CODES.includes(parts[2] as RefusedUsageCode)) {
          history.refused.push({ hour: Number(parts[1]), code: parts[2] as RefusedUsageCode, fingerprint: parts[4], requests: Number(value) })
        } else if (parts[0] === 'l') {
          // Its `p:` field is written and forgotten with it, by the same script.
          history.keys.push({ name: parts[1], fingerprint: parts[2], lastUsedAt: Number(value), previousRequests: Number(fields[`p:${parts[1]}:${parts[2]}`]) })
        }
      }
      return history
    }
  }
}

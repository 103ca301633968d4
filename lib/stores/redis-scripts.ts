import { createHash } from 'node:crypto'
import type { RedisClient } from './redis-client.js'

/** A Lua script, sent by its SHA-1 and whole only when the server does not know it yet. */
export interface RedisScript {
  source: string
  sha: string
}

function script (source: string): RedisScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') }
}

/**
 * Shared Lua helpers. The usage hash has two fields a previous key, `requests:<digest>` and
 * `lastSeenAt:<digest>`; the state's `previous` field is a JSON array of records with a `digest`.
 */
const HELPERS = `local function usageDigest (field) return string.match(field, '^[a-zA-Z]+:(.*)$') end
local function heldDigests (previous)
  local held = {}
  for _, record in ipairs(cjson.decode(previous)) do held[record.digest] = true end
  return held
end
`

/**
 * Compare-and-set of the whole state, announced in the same script. KEYS: the state hash, the usage hash.
 * ARGV: the version the caller read, the current key, the previous keys (JSON), the channel. Writes only if the
 * version is still the one read, drops the usage figures of previous keys that are gone (decoding the previous
 * keys only when there are usage figures: with a thousand retired records the decoding is most of the script's
 * time, and a script over SLOWLOG's threshold logs its arguments, the current key among them), and publishes the
 * new version. Returns the new version, or -1 when another writer came first.
 */
export const COMMIT = script(HELPERS + `
local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if version ~= tonumber(ARGV[1]) then return -1 end
redis.call('HSET', KEYS[1], 'current', ARGV[2], 'previous', ARGV[3])
version = redis.call('HINCRBY', KEYS[1], 'version', 1)
local fields = redis.call('HKEYS', KEYS[2])
if #fields > 0 then
  local held = heldDigests(ARGV[3])
  for _, field in ipairs(fields) do
    if not held[usageDigest(field)] then redis.call('HDEL', KEYS[2], field) end
  end
end
redis.call('PUBLISH', ARGV[4], version)
return version
`)

/**
 * Adds request counts to previous keys still on record. KEYS: the state hash, the usage hash. ARGV: triples of
 * digest, requests, lastSeenAt. Reports for a digest the state does not hold are dropped. Returns how many landed.
 */
export const RECORD_USAGE = script(HELPERS + `
local held = heldDigests(redis.call('HGET', KEYS[1], 'previous') or '[]')
local recorded = 0
for i = 1, #ARGV, 3 do
  local digest = ARGV[i]
  if held[digest] then
    redis.call('HINCRBY', KEYS[2], 'requests:' .. digest, ARGV[i + 1])
    local seen = tonumber(redis.call('HGET', KEYS[2], 'lastSeenAt:' .. digest) or '-1')
    if tonumber(ARGV[i + 2]) > seen then redis.call('HSET', KEYS[2], 'lastSeenAt:' .. digest, ARGV[i + 2]) end
    recorded = recorded + 1
  end
end
return recorded
`)

/** Runs `script` by EVALSHA, sending it whole when the server forgot it (a restart, SCRIPT FLUSH, a failover). */
export async function runScript (client: RedisClient, { source, sha }: RedisScript, keys: string[], args: Array<string | number>): Promise<number> {
  try {
    return await client.evalsha(sha, keys.length, ...keys, ...args) as number
  } catch (error) {
    if (!String((error as Error).message).startsWith('NOSCRIPT')) throw error
    return await client.eval(source, keys.length, ...keys, ...args) as number
  }
}

import { Redis, type Cluster, type RedisOptions } from 'ioredis'
import type { Test } from 'tap'
import { IN_CI, REDIS_URL, uniqueNamespace } from './services.js'

const target = new URL(REDIS_URL)
/** Where the real Redis listens, for a TCP proxy in front of it. */
export const REDIS_HOST = target.hostname
export const REDIS_PORT = Number(target.port === '' ? 6379 : target.port)

let probing: Promise<string | null> | null = null

/** Resolves to null when Redis answers PING, or to the reason it does not. One short attempt, no retries. */
function probe (): Promise<string | null> {
  probing ??= (async () => {
    const client = new Redis(REDIS_URL, {
      lazyConnect: true,
      connectTimeout: 2000,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null
    })
    client.on('error', () => {})
    try {
      await client.connect()
      await client.ping()
      return null
    } catch (error) {
      return (error as Error).message
    } finally {
      client.disconnect()
    }
  })()
  return probing
}

/**
 * Runs `define` inside a subtest when Redis answers. Otherwise the subtest is skipped with a visible message,
 * or fails under CI=true, where a missing service is never a skip.
 */
export function onRedis (t: Test, define: (t: Test) => void): void {
  t.test(`on Redis at ${REDIS_URL}`, async (t) => {
    const problem = await probe()
    if (problem !== null) {
      const message = `Redis is unreachable at ${REDIS_URL} (${problem}). Start it (see README, Redis) or set REDIS_URL`
      if (IN_CI) t.fail(`${message}. CI=true: a missing Redis fails the run.`)
      else t.plan(0, `${message}: the Redis tests are skipped.`)
      return
    }
    define(t)
  })
}

/** An ioredis client of the test's own, disconnected when the test ends. Its errors are expected in outage tests. */
export function redisClient (t: Test, options: RedisOptions = {}, url = REDIS_URL): Redis {
  const client = new Redis(url, options)
  client.on('error', () => {})
  t.teardown(() => { client.disconnect() })
  return client
}

/** The URL of a proxy on 127.0.0.1 in front of Redis, keeping the database and credentials of REDIS_URL. */
export function proxiedUrl (port: number): string {
  const url = new URL(REDIS_URL)
  url.hostname = '127.0.0.1'
  url.port = String(port)
  return url.toString()
}

/**
 * Every key of a namespace, by the hash tag every key of the store carries: `{<prefix>:<namespace>:<project>}…`
 * for a project, `{<prefix>:<namespace>}…` as release 0.1 wrote them.
 */
export async function keysOf (client: Redis, namespace: string, keyPrefix = 'fastify-anon-key'): Promise<string[]> {
  const pattern = `\\{${keyPrefix}:${namespace}[:}]*`
  const found: string[] = []
  let cursor = '0'
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
    found.push(...batch)
    cursor = next
  } while (cursor !== '0')
  return found.sort()
}

/**
 * A key's content as text, whatever its type: a project's hash, its sorted set of retired keys, or the
 * namespace's change log and counter.
 */
export async function contentOf (client: Redis | Cluster, key: string): Promise<string> {
  const type = await client.type(key)
  if (type === 'hash') return JSON.stringify(await client.hgetall(key))
  if (type === 'zset') return JSON.stringify(await client.zrange(key, '0', '-1', 'WITHSCORES'))
  return String(await client.get(key))
}

/** Deletes every key of a namespace. */
export async function deleteNamespace (admin: Redis, namespace: string, keyPrefix?: string): Promise<void> {
  const keys = await keysOf(admin, namespace, keyPrefix)
  if (keys.length > 0) await admin.del(...keys)
}

/**
 * Namespaces for one test file: `namespace(label)` makes a unique one, `track(name)` adopts one made elsewhere,
 * and every key of each is deleted through `admin` when the test ends.
 */
export function redisNamespaces (t: Test, admin: Redis): { namespace: (label: string) => string, track: (name: string) => string } {
  const names: string[] = []
  const track = (name: string): string => {
    names.push(name)
    return name
  }
  t.teardown(async () => {
    // A connection of its own: the client given may be disconnected by a teardown that runs first, and a clean-up
    // of thousands of keys then lost the race with the closing socket ("Connection is closed.").
    const cleaner = admin.duplicate()
    cleaner.on('error', () => {})
    try {
      for (const name of names) await deleteNamespace(cleaner, name)
    } finally {
      cleaner.disconnect()
    }
  })
  return { namespace: (label) => track(uniqueNamespace(label)), track }
}

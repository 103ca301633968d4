import t from 'tap'
import type { Redis } from 'ioredis'
import { redisStore, type RedisClient } from '../../lib/index.js'
import { onRedis, proxiedUrl, redisClient, REDIS_HOST, REDIS_PORT } from '../helpers/redis.js'
import { startTcpProxy } from '../helpers/tcp-proxy.js'
import { uniqueNamespace } from '../helpers/services.js'
import { eventually } from '../helpers/eventually.js'
import { watchUnhandled } from '../helpers/unhandled.js'

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * A real client with the slot-map refresh of an ioredis Cluster beside it, counted. The commands go to one Redis
 * through a proxy that can go silent, as a master that stops answering without closing its connections.
 */
function clusterLike (redis: Redis): { client: RedisClient, refreshes: number[] } {
  const refreshes: number[] = []
  const client = {
    hmget: (key: string, ...fields: string[]) => redis.hmget(key, ...fields),
    hgetall: (key: string) => redis.hgetall(key),
    zrevrange: (key: string, start: number, stop: number) => redis.zrevrange(key, start, stop),
    evalsha: (sha: string, count: number, ...rest: Array<string | number>) => redis.evalsha(sha, count, ...rest),
    eval: (source: string, count: number, ...rest: Array<string | number>) => redis.eval(source, count, ...rest),
    duplicate: () => redis.duplicate(),
    refreshSlotsCache (callback?: () => void) {
      refreshes.push(performance.now())
      callback?.()
    }
  }
  return { client, refreshes }
}

onRedis(t, (t) => {
  t.test('a Cluster whose command goes unanswered for 500 ms is asked for its slot map, at most once in 500 ms however many wait', async (t) => {
    const unhandled = watchUnhandled(t)
    const proxy = await startTcpProxy(REDIS_HOST, REDIS_PORT)
    t.teardown(() => proxy.close())
    const { client, refreshes } = clusterLike(redisClient(t, {}, proxiedUrl(proxy.port)))
    const store = redisStore({ client, namespace: uniqueNamespace('slots') })
    t.teardown(() => store.close())

    await store.load('tenant-a')
    await sleep(700)
    t.same(refreshes, [], 'a command answered in time asks nothing')

    proxy.cut('blackhole')
    const silentAt = performance.now()
    const waiting = [store.load('tenant-a'), store.load('tenant-b'), store.loadRetired('tenant-a')]
    for (const command of waiting) command.catch(() => {})
    await eventually('the slot map to be asked for', () => refreshes.length > 0, 2000)
    t.ok(refreshes[0] - silentAt >= 490, `not before 500 ms (${(refreshes[0] - silentAt).toFixed(0)} ms)`)
    await sleep(300)
    t.equal(refreshes.length, 1, 'once for the three commands that wait')
    const later = store.load('tenant-c')
    later.catch(() => {})
    await eventually('a command sent later to ask again', () => refreshes.length > 1, 2000)
    t.ok(refreshes[1] - refreshes[0] >= 490, `again only 500 ms after the last time (${(refreshes[1] - refreshes[0]).toFixed(0)} ms)`)

    proxy.restore()
    await Promise.all([...waiting, later])
    t.equal((await store.load('tenant-a')).version, 0, 'commands are answered again once the server is')
    t.same(unhandled, [], 'no unhandled rejection')
  })
})

import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { redisStore } from '../../lib/index.js'
import { generateAnonKey } from '../../lib/stores/index.js'
import { adminHeaders, assertError, buildApp, currentKey, rotate, useKey } from '../helpers/app.js'
import { deleteNamespace, onRedis, proxiedUrl, redisClient, REDIS_HOST, REDIS_PORT } from '../helpers/redis.js'
import { uniqueNamespace } from '../helpers/services.js'
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js'
import { keyHandle } from '../../lib/conformance/index.js'
import { eventually } from '../helpers/eventually.js'

const STORE_TIMEOUT_MS = 500
/** "Plus a little": what a 503 may take beyond storeTimeoutMs on a busy two-core machine. */
const SLACK_MS = 1000

interface Instance {
  app: FastifyInstance
  /** Closes the app, its store and its client. */
  stop (): Promise<void>
}

/** An app instance whose Redis connections (client and listening duplicate) all go through `proxy`. Default ioredis options. */
async function startBehind (t: Test, proxy: TcpProxy, namespace: string): Promise<Instance> {
  const client = redisClient(t, {}, proxiedUrl(proxy.port))
  const store = redisStore({ client, namespace })
  const app = buildApp({ store, storeTimeoutMs: STORE_TIMEOUT_MS })
  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    await app.close()
    await store.close()
    client.disconnect()
  }
  t.teardown(stop)
  await app.ready()
  return { app, stop }
}

const ADMIN_ROUTES = [
  { method: 'GET', url: '/api/metadata/anon-key' },
  { method: 'POST', url: '/api/secrets/anon-key/rotate' },
  { method: 'GET', url: '/api/secrets/anon-key/previous' },
  { method: 'DELETE', url: '/api/secrets/anon-key/previous' }
] as const

onRedis(t, (t) => {
  const admin = redisClient(t)

  for (const mode of ['refuse', 'blackhole'] as const) {
    t.test(`Redis cut (${mode === 'refuse' ? 'connections reset and refused' : 'a silent network: packets go nowhere'}): keys keep verifying, admin routes answer 503, everything recovers`, async (t) => {
      const unhandled: unknown[] = []
      const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
      process.on('unhandledRejection', onUnhandled)
      t.teardown(() => { process.off('unhandledRejection', onUnhandled) })

      const ns = uniqueNamespace(`outage_${mode}`)
      t.teardown(() => deleteNamespace(admin, ns))
      const proxy = await startTcpProxy(REDIS_HOST, REDIS_PORT)
      t.teardown(() => proxy.close())
      const [{ app: one }, { app: two }, writer] = [await startBehind(t, proxy, ns), await startBehind(t, proxy, ns), await startBehind(t, proxy, ns)]

      // A previous key whose grace ends during the outage, rotated by a third instance straight on Redis.
      const previous = await currentKey(one)
      const current = generateAnonKey()
      const expiresAt = Date.now() + 2500
      await keyHandle(redisStore({ client: admin, namespace: ns })).rotate({ newKey: current, now: Date.now(), expiresAt })
      for (const app of [one, two]) await eventually('both instances to hear the rotation', async () => (await useKey(app, current)).statusCode === 200, 2000)

      proxy.cut(mode)
      for (const app of [one, two]) {
        t.equal((await useKey(app, current)).statusCode, 200, 'the current key keeps verifying while Redis is cut off')
        t.equal((await useKey(app, previous)).statusCode, 200, 'the previous key keeps verifying within its grace period')
      }
      // Every admin route on one instance, and the reads on another. The writes that answered 503 may still be
      // in ioredis's queue; their instance is stopped before Redis comes back so that they cannot land later.
      const answers = await Promise.all([
        ...ADMIN_ROUTES.map((route) => ({ app: writer.app, route })),
        ...ADMIN_ROUTES.filter((route) => route.method === 'GET').map((route) => ({ app: one, route }))
      ].map(async ({ app, route }) => {
        const started = performance.now()
        const response = await app.inject({ ...route, headers: adminHeaders() })
        return { route, response, ms: performance.now() - started }
      }))
      for (const { route, response, ms } of answers) {
        assertError(t, response, 503, 'STORE_UNAVAILABLE')
        t.ok(ms < STORE_TIMEOUT_MS + SLACK_MS, `${route.method} ${route.url} answered 503 in ${ms.toFixed(0)} ms (storeTimeoutMs ${STORE_TIMEOUT_MS})`)
      }
      t.comment(`503 STORE_UNAVAILABLE answered in ${answers.map(({ ms }) => ms.toFixed(0)).join(', ')} ms with storeTimeoutMs ${STORE_TIMEOUT_MS}`)
      await writer.stop()
      await eventually('the grace period to end', async () => Date.now() >= expiresAt, 5000)
      for (const app of [one, two]) {
        assertError(t, await useKey(app, previous), 401, 'ANON_KEY_EXPIRED')
        t.equal((await useKey(app, current)).statusCode, 200, 'the current key still verifies')
      }

      proxy.restore()
      for (const app of [one, two]) {
        await eventually('the admin routes to answer again', async () => (await app.inject({ url: '/api/metadata/anon-key', headers: adminHeaders() })).statusCode === 200, 10000)
      }
      t.equal(await currentKey(one), current, 'nothing changed the key during the outage')

      // Changes flow both ways again: the first one each way may ride on the reconnect, the next ones on pub/sub.
      for (const [bound, from, to] of [[10000, one, two], [10000, two, one], [1000, one, two], [1000, two, one]] as const) {
        const old = await currentKey(from)
        await eventually('the other instance to serve the same key', async () => (await useKey(to, old)).statusCode === 200, bound)
        const response = await rotate(from, { gracePeriodHours: 0 })
        t.equal(response.statusCode, 200, 'rotation works again without a restart')
        await eventually('the other instance to reject the old key as expired', async () => (await useKey(to, old)).json().error === 'ANON_KEY_EXPIRED', bound)
        t.equal((await useKey(to, response.json().anonKey)).statusCode, 200, 'the other instance accepts the new key')
      }
      t.same(unhandled, [], 'no unhandled rejection during the outage or the recovery')
    })
  }
})

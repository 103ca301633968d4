import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { redisStore } from '../../lib/index.js'
import { fingerprintOf } from '../../lib/stores/index.js'
import type { FastifyAnonKeyOptions } from '../../lib/options/options.js'
import { build as buildRedisExample } from '../../examples/redis.js'
import { assertError, buildApp, currentKey, JWT_SECRET, listPrevious, rotate, useKey } from '../helpers/app.js'
import { runExampleScript } from '../helpers/example-script.js'
import { onRedis, redisClient, redisNamespaces } from '../helpers/redis.js'
import { REDIS_URL } from '../helpers/services.js'
import { keyHandle } from '../../lib/conformance/index.js'
import { eventually } from '../helpers/eventually.js'

interface Instance {
  app: FastifyInstance
  /** Closes the app, its store and its client, as a process that exits would. */
  stop (): Promise<void>
}

/** One app instance as it would run in its own process: its own ioredis client, its own store. */
async function launch (t: Test, namespace: string, options: FastifyAnonKeyOptions = {}): Promise<Instance> {
  const client = redisClient(t)
  const store = redisStore({ client, namespace })
  const app = buildApp({ store, ...options })
  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    await app.close()
    await store.close()
    await client.quit()
  }
  t.teardown(stop)
  await app.ready()
  return { app, stop }
}

async function startInstance (t: Test, namespace: string, options: FastifyAnonKeyOptions = {}): Promise<FastifyInstance> {
  return (await launch(t, namespace, options)).app
}

onRedis(t, (t) => {
  const admin = redisClient(t)
  const { namespace } = redisNamespaces(t, admin)

  t.test('5 instances starting at once end with one and the same key', async (t) => {
    const ns = namespace('start5')
    const apps = await Promise.all(Array.from({ length: 5 }, () => startInstance(t, ns)))
    const keys = await Promise.all(apps.map(currentKey))
    t.equal(new Set(keys).size, 1, `every instance serves the same key, got ${keys.map(fingerprintOf).join(', ')}`)
    t.equal((await keyHandle(redisStore({ client: admin, namespace: ns })).load()).version, 1, 'one initialize won, the others found its key')
    for (const app of apps) t.equal((await useKey(app, keys[0])).statusCode, 200)
  })

  t.test('a rotation with gracePeriodHours 0 on one instance is rejected by another within 1 s', async (t) => {
    const ns = namespace('grace0')
    const [one, two] = [await startInstance(t, ns), await startInstance(t, ns)]
    const rounds = 10
    const delays: number[] = []
    for (let round = 0; round < rounds; round++) {
      const old = await currentKey(one)
      t.equal((await useKey(two, old)).statusCode, 200, 'the other instance accepts the key before the rotation')
      const sent = performance.now()
      const response = await rotate(one, { gracePeriodHours: 0 })
      t.equal(response.statusCode, 200)
      delays.push(await eventually('the other instance rejecting the old key', async () => (await useKey(two, old)).statusCode === 401, 1000, { pollMs: 2, started: sent }))
      assertError(t, await useKey(one, old), 401, 'ANON_KEY_EXPIRED')
      assertError(t, await useKey(two, old), 401, 'ANON_KEY_EXPIRED')
      t.equal((await useKey(two, response.json().anonKey)).statusCode, 200, 'the other instance accepts the new key')
    }
    delays.sort((a, b) => a - b)
    const ms = (value: number): string => value.toFixed(1)
    t.comment(`from sending a 0 h rotation to one instance until another refuses the old key (Redis pub/sub), ${rounds} rounds: min ${ms(delays[0])} ms, median ${ms(delays[rounds / 2])} ms, max ${ms(delays[rounds - 1])} ms`)
  })

  t.test('20 concurrent rotations spread over two instances all succeed and lose nothing', async (t) => {
    const ns = namespace('rot20')
    const [one, two] = [await startInstance(t, ns), await startInstance(t, ns)]
    const first = await currentKey(one)
    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => rotate(i % 2 === 0 ? one : two, { gracePeriodHours: 1 })))
    t.same(responses.map((response) => response.statusCode), Array(20).fill(200), 'no rotation failed')
    const issued = responses.map((response) => response.json().anonKey as string)
    t.equal(new Set(issued).size, 20, 'every rotation made its own key')
    const final = await currentKey(two)
    t.ok(issued.includes(final), 'the current key is one of the issued keys')
    const previous = (await listPrevious(one)).map((record) => record.fingerprint).sort()
    const expected = [first, ...issued.filter((key) => key !== final)].map(fingerprintOf).sort()
    t.same(previous, expected, 'the first key and every issued key but the current one are previous keys')
    for (const key of [first, ...issued]) {
      for (const app of [one, two]) {
        await eventually('both instances to accept every key', async () => (await useKey(app, key)).statusCode === 200, 1000, { pollMs: 2 })
      }
    }
  })

  t.test('keys survive a restart of every instance', async (t) => {
    const ns = namespace('restart')
    const firstGeneration = [await launch(t, ns), await launch(t, ns)]
    const old = await currentKey(firstGeneration[0].app)
    const rotated = await rotate(firstGeneration[1].app, { gracePeriodHours: 1 })
    t.equal(rotated.statusCode, 200)
    for (const instance of firstGeneration) await instance.stop()

    const [one, two] = [await startInstance(t, ns), await startInstance(t, ns)]
    t.equal(await currentKey(one), rotated.json().anonKey, 'the restarted instances serve the key rotated before the restart')
    t.equal(await currentKey(two), rotated.json().anonKey)
    t.equal((await useKey(two, old)).statusCode, 200, 'the previous key still verifies within its grace period')
    t.same((await listPrevious(one)).map((record) => record.fingerprint), [fingerprintOf(old)])
    t.equal((await keyHandle(redisStore({ client: admin, namespace: ns })).load()).version, 2, 'no new key was made on the restart')
  })

  t.test('old-key usage seen by two instances is summed in the listing of either', async (t) => {
    const ns = namespace('usage')
    const [one, two] = [await startInstance(t, ns, { usageFlushMs: 50 }), await startInstance(t, ns, { usageFlushMs: 50 })]
    const old = await currentKey(one)
    t.equal((await rotate(one, { gracePeriodHours: 1 })).statusCode, 200)
    await eventually('the other instance to hear the rotation', async () => (await currentKey(two)) !== old, 1000, { pollMs: 2 })
    for (const [app, times] of [[one, 3], [two, 2]] as const) {
      for (let i = 0; i < times; i++) t.equal((await useKey(app, old)).statusCode, 200)
    }
    for (const app of [one, two]) {
      await eventually('both instances to list 5 requests', async () => (await app.anonKey.listPrevious())[0].requests === 5, 2000, { pollMs: 2 })
    }
    const [listed] = await two.anonKey.listPrevious()
    t.equal(listed.fingerprint, fingerprintOf(old))
    t.type(listed.lastSeenAt, 'string', 'the last request is dated')
  })

  t.test('two namespaces on one server never see each other\'s keys', async (t) => {
    const [nsOne, nsTwo] = [namespace('isoA'), namespace('isoB')]
    const [one, two] = [await startInstance(t, nsOne), await startInstance(t, nsTwo)]
    const [keyOne, keyTwo] = [await currentKey(one), await currentKey(two)]
    t.not(keyOne, keyTwo, 'each namespace has its own key')
    assertError(t, await useKey(two, keyOne), 401, 'AUTH_INVALID_CREDENTIALS')
    assertError(t, await useKey(one, keyTwo), 401, 'AUTH_INVALID_CREDENTIALS')
    t.equal((await rotate(one, { gracePeriodHours: 0 })).statusCode, 200)
    t.equal(await currentKey(two), keyTwo, 'a rotation in one namespace left the other\'s key alone')
    t.same(await listPrevious(two), [], 'and made no previous key there')
    t.equal((await useKey(two, keyTwo)).statusCode, 200)
  })

  t.test('examples/redis.ts: two copies on one Redis serve one key, and a 0 h rotation through one cuts the old key off in the other', async (t) => {
    const ns = namespace('example')
    const apps = await Promise.all([0, 1].map(async () => {
      const app = await buildRedisExample(JWT_SECRET, redisClient(t), ns)
      t.teardown(() => app.close())
      await app.ready()
      return app
    }))
    const old = await currentKey(apps[0])
    t.equal(await currentKey(apps[1]), old)
    t.equal((await apps[1].inject({ url: '/hello', headers: { authorization: `Bearer ${old}` } })).statusCode, 200)
    t.equal((await rotate(apps[0], { gracePeriodHours: 0 })).statusCode, 200)
    await eventually('the other copy to reject the old key', async () => (await apps[1].inject({ url: '/hello', headers: { authorization: `Bearer ${old}` } })).statusCode === 401, 1000, { pollMs: 2 })
  })

  t.test('examples/redis.ts runs as is: serves the key from Redis, prints a working admin token, stops on SIGTERM', async (t) => {
    const ns = namespace('example_script')
    const run = runExampleScript(t, 'redis.ts', { REDIS_URL, ANON_KEY_NAMESPACE: ns })
    const [, base] = await run.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/)
    const [, token] = await run.waitFor(/export TOKEN=(\S+)/)
    const answer = await fetch(`${base}/api/metadata/anon-key`, { headers: { authorization: `Bearer ${token}` } })
    t.equal(answer.status, 200)
    const stored = await keyHandle(redisStore({ client: admin, namespace: ns })).load()
    t.equal(((await answer.json()) as { anonKey: string }).anonKey, stored.currentKey, 'the key it serves is the one in Redis')
    t.equal(await run.stop(), 0, 'closes the app, the store and its client, and exits cleanly')
  })
})

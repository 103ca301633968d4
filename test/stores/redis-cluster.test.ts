import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import type { Cluster, Redis } from 'ioredis'
import { redisStore } from '../../lib/index.js'
import { fingerprintOf } from '../../lib/stores/index.js'
import type { FastifyAnonKeyOptions } from '../../lib/options/options.js'
import { runStoreConformance } from '../../lib/conformance/index.js'
import { buildApp, currentKey, listPrevious, rotate, useKey } from '../helpers/app.js'
import { contentOf, keysOf } from '../helpers/redis.js'
import { onRedisCluster, type LocalRedisCluster } from '../helpers/redis-cluster.js'
import { uniqueNamespace } from '../helpers/services.js'
import { eventually } from '../helpers/eventually.js'
import { spread } from '../helpers/spread.js'

// Starting six servers and forming the cluster takes a few seconds; the conformance suite runs on top.
t.setTimeout(240_000)

/** One app instance as it would run in its own process: its own Cluster client on every node, its own store. */
async function startInstance (t: Test, cluster: LocalRedisCluster, namespace: string, options: FastifyAnonKeyOptions = {}): Promise<FastifyInstance> {
  const store = redisStore({ client: cluster.client(), namespace })
  const app = buildApp({ store, ...options })
  t.teardown(async () => {
    await app.close()
    await store.close()
  })
  await app.ready()
  return app
}

/** Everything the cluster holds for a namespace, as text: the keys of every master, with their fields. */
async function dumpOf (client: Cluster, namespace: string): Promise<string> {
  const parts: string[] = []
  for (const master of client.nodes('master')) {
    for (const key of await keysOf(master as Redis, namespace)) parts.push(key, await contentOf(client, key))
  }
  return parts.join('\n')
}

onRedisCluster(t, 'on a 6-node Redis Cluster (3 masters, 3 replicas) on loopback', async (t, cluster) => {
  // The cluster lives only as long as this test: nothing it holds needs deleting afterwards.
  const admin = cluster.client()
  const namespace = uniqueNamespace

  t.test('the Redis store passes the conformance suite on Redis Cluster, each instance on a Cluster client of its own', async (t) => {
    await runStoreConformance(t, {
      createStore: (ns) => redisStore({ client: cluster.client(), namespace: ns }),
      readRaw: (ns) => dumpOf(admin, ns),
      namespacePrefix: uniqueNamespace('cluster_conformance')
    })
  })

  t.test('three instances started at once agree on one key, and each sees the others\' rotations', async (t) => {
    const ns = namespace('agree')
    const apps = await Promise.all([0, 1, 2].map(() => startInstance(t, cluster, ns)))
    const keys = await Promise.all(apps.map(currentKey))
    t.equal(new Set(keys).size, 1, `every instance serves the same key, got ${keys.map(fingerprintOf).join(', ')}`)
    for (const [index, app] of apps.entries()) {
      const response = await rotate(app, { gracePeriodHours: 1 })
      t.equal(response.statusCode, 200, `rotation through instance ${index + 1}: ${response.body}`)
      const fresh = response.json().anonKey as string
      for (const other of apps) {
        await eventually('every instance to accept the new key', async () => (await useKey(other, fresh)).statusCode === 200, 1000)
        t.equal(await currentKey(other), fresh, 'every instance reads the same current key')
      }
    }
    t.equal((await listPrevious(apps[2])).length, 3, 'the first key and two rotated ones are previous keys')
  })

  t.test('20 concurrent rotations spread over three instances all succeed and lose nothing', async (t) => {
    const ns = namespace('rot20')
    const apps = [await startInstance(t, cluster, ns), await startInstance(t, cluster, ns), await startInstance(t, cluster, ns)]
    const first = await currentKey(apps[0])
    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => rotate(apps[i % 3], { gracePeriodHours: 1 })))
    t.same(responses.map((response) => response.statusCode), Array(20).fill(200), 'no rotation failed')
    const issued = responses.map((response) => response.json().anonKey as string)
    t.equal(new Set(issued).size, 20, 'every rotation made its own key')
    const final = await currentKey(apps[1])
    t.ok(issued.includes(final), 'the current key is one of the issued keys')
    const expected = [first, ...issued.filter((key) => key !== final)].map(fingerprintOf).sort()
    t.same((await listPrevious(apps[2])).map((record) => record.fingerprint).sort(), expected,
      'the first key and every issued key but the current one are previous keys')
    for (const key of [first, ...issued]) {
      for (const app of apps) await eventually('every instance to accept every key', async () => (await useKey(app, key)).statusCode === 200, 1000)
    }
  })

  t.test('a 0 h rotation on one instance is refused by the two others within 1 s', async (t) => {
    const ns = namespace('propagation')
    const apps = [await startInstance(t, cluster, ns), await startInstance(t, cluster, ns), await startInstance(t, cluster, ns)]
    const delays: number[] = []
    for (let round = 0; round < 12; round++) {
      const [from, ...others] = [apps[round % 3], ...apps.filter((_, index) => index !== round % 3)]
      const old = await currentKey(from)
      const sent = performance.now()
      t.equal((await rotate(from, { gracePeriodHours: 0 })).statusCode, 200, 'the rotation succeeds')
      for (const other of others) {
        delays.push(await eventually('another instance to refuse the old key', async () => (await useKey(other, old)).statusCode === 401, 1000, { started: sent, pollMs: 2 }))
      }
    }
    t.comment(`Redis Cluster propagation, from sending a 0 h rotation to one instance until another refuses the old key: ${spread(delays)}`)
  })

  t.test('after every subscriber connection is killed (CLIENT KILL TYPE pubsub), changes reach every instance again', async (t) => {
    const ns = namespace('pubsubkill')
    const apps = [
      await startInstance(t, cluster, ns, { cacheTtlMs: 10_000 }),
      await startInstance(t, cluster, ns, { cacheTtlMs: 10_000 }),
      await startInstance(t, cluster, ns, { cacheTtlMs: 10_000 })
    ]
    const subscribers = async (): Promise<number> => Object.values(await cluster.subscribers(cluster.nodes)).reduce((sum, count) => sum + count, 0)
    const before = await subscribers()
    t.ok(before >= 3, `each instance has a subscriber connection somewhere in the cluster (${before} found)`)

    // A change announced right after the kill races ioredis, which replaces its Cluster subscribers within a few
    // round trips and without an event: when the rotation publishes first, only the store's poll finds it.
    const old = await currentKey(apps[0])
    for (const node of cluster.nodes) await cluster.node(node).call('CLIENT', 'KILL', 'TYPE', 'pubsub')
    const sent = performance.now()
    t.equal((await rotate(apps[0], { gracePeriodHours: 0 })).statusCode, 200, 'a rotation works while the subscribers are replaced')
    t.equal((await useKey(apps[0], old)).statusCode, 401, 'the instance that rotated refuses the old key at once')
    const caughtUp = await Promise.all(apps.slice(1).map((app) => eventually('another instance to refuse the old key', async () => (await useKey(app, old)).statusCode === 401, 10_000 + 5000, { started: sent, pollMs: 2 })))
    t.comment(`a 0 h rotation made right after CLIENT KILL TYPE pubsub on every node was refused by the other instances after ${caughtUp.map((ms) => `${ms.toFixed(0)} ms`).join(' and ')} (cacheTtlMs 10000)`)
    t.ok(caughtUp.every((ms) => ms < 2000), 'a change announced while the subscribers are replaced reaches every instance within 2 s')

    await eventually('every instance to have a subscriber again', async () => await subscribers() >= before, 5000)
    const delays: number[] = []
    for (let round = 0; round < 6; round++) {
      const from = apps[round % 3]
      const current = await currentKey(from)
      const started = performance.now()
      t.equal((await rotate(from, { gracePeriodHours: 0 })).statusCode, 200, 'the rotation succeeds')
      for (const other of apps.filter((app) => app !== from)) {
        delays.push(await eventually('another instance to refuse the old key through pub/sub', async () => (await useKey(other, current)).statusCode === 401, 1000, { started, pollMs: 2 }))
      }
    }
    t.comment(`after the subscribers came back, propagation: ${spread(delays)}`)
  })
})

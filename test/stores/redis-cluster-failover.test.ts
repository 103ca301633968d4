import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { redisStore } from '../../lib/index.js'
import type { FastifyAnonKeyOptions } from '../../lib/options/options.js'
import { adminHeaders, assertError, buildApp, currentKey, rotate, useKey } from '../helpers/app.js'
import { CLUSTER_NODE_TIMEOUT_MS, onRedisCluster, sameNode, type ClusterNode, type LocalRedisCluster } from '../helpers/redis-cluster.js'
import { uniqueNamespace } from '../helpers/services.js'
import { eventually } from '../helpers/eventually.js'
import { watchUnhandled } from '../helpers/unhandled.js'
import { spread } from '../helpers/spread.js'

// Each case forms its own cluster and breaks it; a failover takes a few times cluster-node-timeout.
t.setTimeout(240_000)

const STORE_TIMEOUT_MS = 1000
/** "Plus a little": what a 503 may take beyond storeTimeoutMs on a busy two-core machine. */
const SLACK_MS = 1000
const CACHE_TTL_MS = 10_000

// The hash of the single project (the empty project id) of a namespace: where its keys live in the cluster.
const stateKey = (namespace: string): string => `{fastify-anon-key:${namespace}:}:state`
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** One app instance on its own Cluster client, which knows the cluster through `startupNodes`. */
async function startInstance (
  t: Test,
  cluster: LocalRedisCluster,
  namespace: string,
  startupNodes: ClusterNode[],
  options: FastifyAnonKeyOptions = {}
): Promise<FastifyInstance> {
  const store = redisStore({ client: cluster.client({}, startupNodes), namespace })
  const app = buildApp({ store, storeTimeoutMs: STORE_TIMEOUT_MS, ...options })
  t.teardown(async () => {
    await app.close()
    await store.close()
  })
  await app.ready()
  return app
}

/** Rotations with 0 h through each instance in turn: every other instance refuses the old key within `boundMs`. */
async function propagation (t: Test, apps: FastifyInstance[], rounds: number, boundMs: number): Promise<number[]> {
  const delays: number[] = []
  for (let round = 0; round < rounds; round++) {
    const from = apps[round % apps.length]
    const old = await currentKey(from)
    const started = performance.now()
    t.equal((await rotate(from, { gracePeriodHours: 0 })).statusCode, 200, 'the rotation succeeds')
    for (const other of apps.filter((app) => app !== from)) {
      delays.push(await eventually('another instance to refuse the old key', async () => (await useKey(other, old)).statusCode === 401, boundMs, { started, pollMs: 2 }))
    }
  }
  return delays
}

onRedisCluster(t, 'a failover of the master that holds the namespace (its process killed): verification never fails, admin calls answer 503 in time and recover, notifications flow again', async (t, cluster) => {
  const unhandled = watchUnhandled(t)
  const ns = uniqueNamespace('failover')
  const { master, replicas } = await cluster.shardOf(stateKey(ns))
  // The namespace's master first among the startup nodes, as a host listing its nodes in order would.
  const startupNodes = [master, ...cluster.nodes.filter((node) => !sameNode(node, master))]
  const apps = [
    await startInstance(t, cluster, ns, startupNodes),
    await startInstance(t, cluster, ns, startupNodes),
    await startInstance(t, cluster, ns, startupNodes)
  ]
  const previous = await currentKey(apps[0])
  t.equal((await rotate(apps[0], { gracePeriodHours: 1 })).statusCode, 200)
  const current = await currentKey(apps[0])
  for (const app of apps) await eventually('every instance to accept the current key', async () => (await useKey(app, current)).statusCode === 200, 1000)
  const placement = await cluster.subscribers(cluster.nodes)
  t.comment(`subscriber connections by node before the failover (namespace master ${master.port}): ${JSON.stringify(placement)}`)
  // Redis replicates asynchronously: on a busy machine the replica may not have the key yet, and a failover would
  // then lose it, as Redis documents. One write in the namespace's slot and WAIT make the key reach the replica first.
  const direct = cluster.node(master)
  await direct.set(`{fastify-anon-key:${ns}:}:replicated`, '1')
  t.equal(await direct.call('WAIT', '1', '10000'), 1, 'the replica has every write of the namespace before the master dies')

  const failoverOver = new AbortController()
  const verifications: Record<number, number> = {}
  const verifying = apps.map(async (app) => {
    while (!failoverOver.signal.aborted) {
      for (const key of [current, previous]) {
        const { statusCode } = await useKey(app, key)
        verifications[statusCode] = (verifications[statusCode] ?? 0) + 1
      }
      await sleep(2)
    }
  })
  const answers: Array<{ statusCode: number, ms: number, body: string, at: number }> = []
  const killedAt = performance.now()
  cluster.kill(master)
  const rotateDuringFailover = rotate(apps[1], { gracePeriodHours: 1 })
  const recovered = await Promise.all(apps.map(async (app) => {
    let sawFailure = false
    for (;;) {
      const started = performance.now()
      const response = await app.inject({ url: '/api/metadata/anon-key', headers: adminHeaders() })
      answers.push({ statusCode: response.statusCode, ms: performance.now() - started, body: response.body, at: started - killedAt })
      if (response.statusCode === 200 && sawFailure) return performance.now() - killedAt
      if (response.statusCode !== 200) sawFailure = true
      if (performance.now() - killedAt > 60_000) throw new Error(`the admin route did not recover within 60 s: ${response.body}`)
      await sleep(50)
    }
  }))
  failoverOver.abort()
  await Promise.all(verifying)

  const refused = answers.filter((answer) => answer.statusCode !== 200)
  t.ok(refused.length > 0, 'the admin calls noticed the failover')
  assertError(t, { statusCode: refused[0].statusCode, body: refused[0].body }, 503, 'STORE_UNAVAILABLE')
  t.same([...new Set(refused.map((answer) => answer.statusCode))], [503], 'every refused admin call answered 503')
  const slowest = Math.max(...answers.map((answer) => answer.ms))
  t.ok(slowest < STORE_TIMEOUT_MS + SLACK_MS, `every admin call answered within storeTimeoutMs ${STORE_TIMEOUT_MS} plus a little (slowest ${slowest.toFixed(0)} ms)`)
  const rotation = await rotateDuringFailover
  t.ok(rotation.statusCode === 503 || rotation.statusCode === 200, `a rotation sent as the master died answers 503 or succeeds, never hangs or fails otherwise (${rotation.statusCode})`)
  t.same(Object.keys(verifications), ['200'], `every verification succeeded during the failover: ${JSON.stringify(verifications)}`)
  const promoted = await cluster.shardOf(stateKey(ns))
  t.ok(replicas.some((replica) => sameNode(replica, promoted.master)), `the replica ${replicas.map((replica) => replica.port).join(', ')} took over (now ${promoted.master.port})`)
  const firstRefusal = Math.min(...refused.map((answer) => answer.at))
  const lastRefusal = Math.max(...refused.map((answer) => answer.at))
  t.comment(`failover with cluster-node-timeout ${CLUSTER_NODE_TIMEOUT_MS} ms: admin calls answered 503 from ${firstRefusal.toFixed(0)} ms to ${lastRefusal.toFixed(0)} ms after the kill ` +
    `(${refused.length} of ${answers.length} calls, slowest answer ${slowest.toFixed(0)} ms, storeTimeoutMs ${STORE_TIMEOUT_MS}); ` +
    `each instance answered 200 again ${recovered.map((ms) => `${ms.toFixed(0)} ms`).join(', ')} after the kill; ` +
    `verifications meanwhile: ${JSON.stringify(verifications)}`)

  await cluster.waitUntilHealthy()
  const delays = await propagation(t, apps, 6, 1000)
  t.comment(`after the failover, propagation: ${spread(delays)}`)
  t.same(unhandled, [], 'no unhandled rejection during the failover or the recovery')
})

onRedisCluster(t, 'a frozen node holding every subscriber (SIGSTOP): rotations go on, a change made meanwhile reaches the others within 2 s, notifications come back with the node', async (t, cluster) => {
  const unhandled = watchUnhandled(t)
  const ns = uniqueNamespace('frozen')
  const { master } = await cluster.shardOf(stateKey(ns))
  // Another shard's replica as the only startup node: every instance's subscriber lands on it, and the
  // namespace's master stays up, so rotations go on while the subscribers hear nothing.
  const masters = await Promise.all(cluster.nodes.map((node) => cluster.node(node).role()))
  const frozen = cluster.nodes.find((node, index) => (masters[index] as unknown[])[0] === 'slave' && (masters[index] as unknown[])[2] !== master.port) as ClusterNode
  const apps = await Promise.all([0, 1, 2].map(() => startInstance(t, cluster, ns, [frozen], { cacheTtlMs: CACHE_TTL_MS })))
  t.same(await cluster.subscribers([frozen]), { [frozen.port]: 3 }, 'the three subscribers listen on the startup node')

  const old = await currentKey(apps[0])
  cluster.pause(frozen)
  const sent = performance.now()
  t.equal((await rotate(apps[0], { gracePeriodHours: 0 })).statusCode, 200, 'rotations go on: the namespace\'s master is up')
  t.equal((await useKey(apps[0], old)).statusCode, 401, 'the instance that rotated refuses the old key at once')
  const current = await currentKey(apps[0])
  const caughtUp = await Promise.all(apps.slice(1).map(async (app) => {
    const ms = await eventually('another instance to refuse the old key', async () => (await useKey(app, old)).statusCode === 401, CACHE_TTL_MS + 5000, { started: sent, pollMs: 2 })
    t.equal((await useKey(app, current)).statusCode, 200, 'the other instance accepts the new key')
    return ms
  }))
  t.comment(`a 0 h rotation made while the subscribers' node was frozen was refused by the other instances after ${caughtUp.map((ms) => `${ms.toFixed(0)} ms`).join(' and ')} (cacheTtlMs ${CACHE_TTL_MS})`)
  t.ok(caughtUp.every((ms) => ms < 2000), 'a change announced while the subscribers\' node is frozen reaches every instance within 2 s, through the poll on the namespace\'s master')

  // ioredis keeps its subscribers on the frozen node (a half-open connection): they come back with the node.
  const elsewhere = await cluster.subscribers(cluster.nodes.filter((node) => !sameNode(node, frozen)))
  t.comment(`subscriber connections on the other nodes, ${(performance.now() - sent).toFixed(0)} ms after the freeze: ${JSON.stringify(elsewhere)}`)
  cluster.resume(frozen)
  await cluster.waitUntilHealthy()
  const delays = await propagation(t, apps, 6, 1000)
  t.comment(`once the node answered again, propagation: ${spread(delays)}`)
  t.same(unhandled, [], 'no unhandled rejection')
})

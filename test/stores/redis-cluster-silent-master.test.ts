import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import type { ClusterOptions } from 'ioredis'
import { redisStore } from '../../lib/index.js'
import { adminHeaders, buildApp, currentKey, rotate, useKey } from '../helpers/app.js'
import { onRedisCluster, sameNode, type ClusterNode, type LocalRedisCluster } from '../helpers/redis-cluster.js'
import { uniqueNamespace } from '../helpers/services.js'
import { eventually } from '../helpers/eventually.js'
import { watchUnhandled } from '../helpers/unhandled.js'

// One cluster, one failover, every client setup at once; a failover takes a few times cluster-node-timeout.
t.setTimeout(240_000)

/** As a deployment usually writes it: a cluster-node-timeout of 3 s, admin calls bounded at 1 s. */
const NODE_TIMEOUT_MS = 3000
const STORE_TIMEOUT_MS = 1000
/** "Plus a little": what a 503 may take beyond storeTimeoutMs on a busy two-core machine. */
const SLACK_MS = 1000
/** How long after the replica took over every admin call may still answer 503. */
const RECOVERY_MS = 3000

/**
 * A subscriber left on the silent node hears nothing; the change then comes from the poll, which drops a poll
 * left unanswered on the silent node after 2 s.
 */
const PROPAGATION_MS = 5000

const stateKey = (namespace: string): string => `{fastify-anon-key:${namespace}:}:state`
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

interface Setup {
  name: string
  startup: (cluster: LocalRedisCluster, masters: ClusterNode[]) => ClusterNode[]
  options: ClusterOptions
}

const SETUPS: Setup[] = [
  { name: 'the three masters as startup nodes, default options', startup: (_, masters) => masters, options: {} },
  { name: 'all six nodes as startup nodes, default options', startup: (cluster) => cluster.nodes, options: {} },
  { name: 'the three masters, lazyConnect', startup: (_, masters) => masters, options: { lazyConnect: true } },
  { name: 'the three masters, enableOfflineQueue: false', startup: (_, masters) => masters, options: { enableOfflineQueue: false } }
]

/** A namespace whose single project lives on `master`'s slots. */
async function namespaceOn (cluster: LocalRedisCluster, master: ClusterNode, label: string): Promise<string> {
  for (;;) {
    const namespace = uniqueNamespace(label)
    if (sameNode((await cluster.shardOf(stateKey(namespace))).master, master)) return namespace
  }
}

async function startInstance (t: Test, cluster: LocalRedisCluster, namespace: string, setup: Setup, masters: ClusterNode[]): Promise<FastifyInstance> {
  const store = redisStore({ client: cluster.client(setup.options, setup.startup(cluster, masters)), namespace })
  const app = buildApp({ store, storeTimeoutMs: STORE_TIMEOUT_MS })
  t.teardown(async () => {
    await app.close()
    await store.close()
  })
  await app.ready()
  return app
}

onRedisCluster(t, 'a master that stops answering without closing its connections (a crashed host): admin calls recover once its replica takes over, with 3 or 6 startup nodes and the documented client options', async (t, cluster) => {
  const unhandled = watchUnhandled(t)
  const roles = await Promise.all(cluster.nodes.map(async (node) => (await cluster.node(node).role())[0]))
  const masters = cluster.nodes.filter((_, index) => roles[index] === 'master')
  const { master, replicas } = await cluster.shardOf(stateKey(uniqueNamespace('silent')))
  const deployments: Array<{ setup: Setup, apps: FastifyInstance[], namespace: string, key: string }> = []
  for (const setup of SETUPS) {
    const namespace = await namespaceOn(cluster, master, 'silent')
    const apps = [await startInstance(t, cluster, namespace, setup, masters), await startInstance(t, cluster, namespace, setup, masters)]
    deployments.push({ setup, apps, namespace, key: await currentKey(apps[0]) })
  }
  // Redis replicates asynchronously: WAIT makes every namespace reach the replica before its master goes silent.
  t.equal(await cluster.node(master).call('WAIT', '1', '10000'), 1, 'the replica has every write before its master goes silent')

  const silentAt = performance.now()
  cluster.pause(master)
  let promotedAt = Infinity
  let promoted: ClusterNode = master
  const promotion = eventually('the replica to take over', async () => {
    promoted = (await cluster.shardOf(stateKey(deployments[0].namespace))).master
    return !sameNode(promoted, master)
  }, 60_000, { pollMs: 100 }).then((ms) => { promotedAt = ms })

  const outcomes = await Promise.all(deployments.map(async ({ setup, apps, key }) => {
    const answers: Array<{ statusCode: number, ms: number }> = []
    const verifications: Record<number, number> = {}
    for (;;) {
      const started = performance.now()
      const response = await apps[0].inject({ url: '/api/metadata/anon-key', headers: adminHeaders() })
      answers.push({ statusCode: response.statusCode, ms: performance.now() - started })
      const verified = (await useKey(apps[1], key)).statusCode
      verifications[verified] = (verifications[verified] ?? 0) + 1
      if (response.statusCode === 200 && answers.length > 1) return { setup, answers, verifications, recoveredAt: started - silentAt }
      if (performance.now() - silentAt > 60_000) return { setup, answers, verifications, recoveredAt: Infinity }
      await sleep(100)
    }
  }))
  await promotion
  t.ok(replicas.some((replica) => sameNode(replica, promoted)), `the replica took over ${promotedAt.toFixed(0)} ms after its master went silent`)

  for (const { setup, answers, verifications, recoveredAt } of outcomes) {
    const refused = answers.filter((answer) => answer.statusCode !== 200)
    const slowest = Math.max(...answers.map((answer) => answer.ms))
    t.comment(`${setup.name}: admin calls answered 503 until ${recoveredAt.toFixed(0)} ms after the master went silent ` +
      `(replica in charge after ${promotedAt.toFixed(0)} ms), slowest answer ${slowest.toFixed(0)} ms; verifications ${JSON.stringify(verifications)}`)
    t.ok(refused.length > 0, `${setup.name}: the admin calls noticed the silent master`)
    t.same([...new Set(refused.map((answer) => answer.statusCode))], [503], `${setup.name}: every refused admin call answered 503`)
    t.ok(slowest < STORE_TIMEOUT_MS + SLACK_MS, `${setup.name}: every admin call answered within storeTimeoutMs plus a little (slowest ${slowest.toFixed(0)} ms)`)
    t.ok(recoveredAt < promotedAt + RECOVERY_MS, `${setup.name}: admin calls answer 200 again within ${RECOVERY_MS} ms of the takeover (after ${(recoveredAt - promotedAt).toFixed(0)} ms)`)
    t.same(Object.keys(verifications), ['200'], `${setup.name}: every verification succeeded meanwhile`)
  }

  for (const { setup, apps } of deployments) {
    const old = await currentKey(apps[0])
    const sent = performance.now()
    t.equal((await rotate(apps[0], { gracePeriodHours: 0 })).statusCode, 200, `${setup.name}: a rotation after the takeover succeeds`)
    const ms = await eventually('the other instance to refuse the old key', async () => (await useKey(apps[1], old)).statusCode === 401, 10_000, { started: sent, pollMs: 5 })
    t.comment(`${setup.name}: after the takeover, the other instance refused the rotated key after ${ms.toFixed(0)} ms`)
    t.ok(ms < PROPAGATION_MS, `${setup.name}: a change reaches the other instance within ${PROPAGATION_MS} ms after the takeover`)
  }
  t.same(unhandled, [], 'no unhandled rejection')
}, { nodeTimeoutMs: NODE_TIMEOUT_MS })

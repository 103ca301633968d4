import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { Pool } from 'pg'
import { postgresStore, redisStore, type AnonKeyStore } from '../lib/index.js'
import { pgbouncerPath, startPgBouncer } from '../test/helpers/pgbouncer.js'
import { startRedisCluster, type LocalRedisCluster } from '../test/helpers/redis-cluster.js'
import { anonKeyApp } from './apps.js'
import { serve } from './child.js'
import { median } from './stats.js'
import { DATABASE_URL, REDIS_URL, uniqueNamespace } from './stores.js'

/**
 * Child process: how long a change takes to reach another instance when its notification is lost, in each
 * failure mode of issue 14. Two apps on one namespace, each on clients of its own, as two instances would be,
 * with cacheTtlMs an hour away: only a notification or the store's catch-up poll (catchUpMs 1000, the default)
 * can make the second one reload. A trial breaks the second instance's listening path, rotates with a grace of
 * 0 through the first one at once, and times from the rotate call until the second refuses the old key
 * (checked every 2 ms); then waits until the second listens again. The trials start at phases spread evenly over
 * one poll period.
 */

export interface CatchUpMode {
  mode: string
  trials: number
  medianMs: number
  maxMs: number
}

export type CatchUpResult = CatchUpMode[]

interface Pair {
  writer: FastifyInstance
  reader: FastifyInstance
  /** Breaks the reader's listening path just before a rotation. */
  breakListening: () => Promise<void>
  /** Resolves once the reader listens again. */
  listening: () => Promise<void>
}

/** The stores' default catchUpMs, which the pairs keep. */
const CATCH_UP_MS = 1000
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Runs what was started for the part when it ends, last first. */
const cleanups: Array<() => unknown> = []
const teardown = { teardown: (fn: () => unknown) => { cleanups.push(fn) } }

async function started (store: AnonKeyStore): Promise<FastifyInstance> {
  const app = anonKeyApp(store)
  cleanups.push(async () => {
    await app.close()
    await store.close()
  })
  await app.ready()
  return app
}

async function refuses (app: FastifyInstance, key: string): Promise<boolean> {
  return (await app.inject({ url: '/data', headers: { authorization: `Bearer ${key}` } })).statusCode === 401
}

async function trial (pair: Pair): Promise<number> {
  const old = (await pair.writer.anonKey.get()) as string
  await pair.breakListening()
  const start = performance.now()
  await pair.writer.anonKey.rotate({ gracePeriodHours: 0 })
  for (;;) {
    if (await refuses(pair.reader, old)) break
    if (performance.now() - start > 30_000) throw new Error('the other instance still accepted the old key after 30 s')
    await sleep(2)
  }
  const took = performance.now() - start
  await pair.listening()
  return took
}

async function measure (mode: string, pair: Pair, trials: number): Promise<CatchUpMode> {
  const times: number[] = []
  for (let index = 0; index < trials; index++) {
    // Trials spread evenly over one poll period: back to back, each would start just after a poll, its worst case.
    await sleep(index * CATCH_UP_MS / trials)
    times.push(await trial(pair))
  }
  return { mode, trials, medianMs: median(times), maxMs: Math.max(...times) }
}

function pool (connectionString: string, applicationName: string): Pool {
  const created = new Pool({ connectionString, max: 4, application_name: applicationName })
  created.on('error', () => {})
  cleanups.push(() => created.end())
  return created
}

function redis (url: string, name?: string): Redis {
  const client = new Redis(url, { connectionName: name })
  client.on('error', () => {})
  cleanups.push(() => client.disconnect())
  return client
}

/** Behind PgBouncer in transaction mode, without listenPool: LISTEN hears nothing, every change comes by the poll. */
async function pooler (): Promise<Pair> {
  const program = pgbouncerPath()
  if (program === null) throw new Error('pgbouncer is not installed (apt-get install -y pgbouncer)')
  const bouncer = await startPgBouncer(teardown, program)
  const namespace = uniqueNamespace('catchup_pooler')
  const writer = await started(postgresStore({ pool: pool(bouncer.url, 'bench-writer'), namespace }))
  const reader = await started(postgresStore({ pool: pool(bouncer.url, 'bench-reader'), namespace }))
  return { writer, reader, breakListening: async () => {}, listening: async () => {} }
}

/** One PostgreSQL: the reader's LISTEN connection is terminated by the server (pg_terminate_backend). */
async function postgresDropped (): Promise<Pair> {
  const namespace = uniqueNamespace('catchup_pg')
  const admin = pool(DATABASE_URL, 'bench-admin')
  const readerName = `bench-reader-${process.pid}`
  const writer = await started(postgresStore({ pool: pool(DATABASE_URL, 'bench-writer'), namespace }))
  const reader = await started(postgresStore({ pool: pool(DATABASE_URL, readerName), namespace }))
  const listener = "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%'"
  return {
    writer,
    reader,
    breakListening: async () => { await admin.query(`SELECT pg_terminate_backend(pid) FROM (${listener}) AS l`, [readerName]) },
    listening: async () => {
      while ((await admin.query(listener, [readerName])).rows.length === 0) await sleep(20)
    }
  }
}

/** One Redis: the reader's subscriber connection is killed (CLIENT KILL ID); ioredis reconnects by itself. */
async function redisDropped (): Promise<Pair> {
  const namespace = uniqueNamespace('catchup_redis')
  const admin = redis(REDIS_URL)
  const readerName = `bench_reader_${process.pid}`
  const writer = await started(redisStore({ client: redis(REDIS_URL), namespace }))
  const reader = await started(redisStore({ client: redis(REDIS_URL, readerName), namespace }))
  const subscriberIds = async (): Promise<string[]> => String(await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub')).split('\n')
    .filter((line) => line.includes(`name=${readerName} `)).map((line) => (/id=(\d+)/.exec(line) as RegExpExecArray)[1])
  return {
    writer,
    reader,
    breakListening: async () => { for (const id of await subscriberIds()) await admin.call('CLIENT', 'KILL', 'ID', id) },
    listening: async () => {
      while ((await subscriberIds()).length === 0) await sleep(20)
      await sleep(50) // resubscribed and announced: the reload it triggers is not this trial's
    }
  }
}

/** A 6-node Redis Cluster: every subscriber connection is killed (CLIENT KILL TYPE pubsub on every node). */
async function clusterReplaced (cluster: LocalRedisCluster): Promise<Pair> {
  const namespace = uniqueNamespace('catchup_cluster')
  const writer = await started(redisStore({ client: cluster.client(), namespace }))
  const reader = await started(redisStore({ client: cluster.client(), namespace }))
  const subscribers = async (): Promise<number> => Object.values(await cluster.subscribers(cluster.nodes)).reduce((sum, count) => sum + count, 0)
  const before = await subscribers()
  return {
    writer,
    reader,
    breakListening: async () => { for (const node of cluster.nodes) await cluster.node(node).call('CLIENT', 'KILL', 'TYPE', 'pubsub') },
    listening: async () => {
      while (await subscribers() < before) await sleep(20)
    }
  }
}

async function main (): Promise<void> {
  const trials = process.argv.includes('--short') ? 3 : 20
  serve({
    async run (): Promise<CatchUpResult> {
      const results: CatchUpResult = []
      results.push(await measure('PostgreSQL behind PgBouncer (transaction mode), no listenPool', await pooler(), trials))
      results.push(await measure('PostgreSQL, listening connection terminated', await postgresDropped(), trials))
      results.push(await measure('Redis, subscriber connection killed', await redisDropped(), trials))
      results.push(await measure('Redis Cluster (6 nodes), every subscriber killed', await clusterReplaced(await startRedisCluster(teardown)), trials))
      return results
    }
  }, async () => {
    for (const cleanup of cleanups.reverse()) await cleanup()
  })
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})

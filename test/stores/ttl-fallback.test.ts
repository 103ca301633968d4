import Fastify from 'fastify'
import type { Pool } from 'pg'
import t, { type Test } from 'tap'
import anonKey, { memoryStore, postgresStore, redisStore, sqliteStore, type AnonKeyStore, type PgPool } from '../../lib/index.js'
import { generateAnonKey } from '../../lib/domain/key.js'
import { keyHandle } from '../../lib/conformance/index.js'
import type { ChangeListener, SubscribeOptions } from '../../lib/stores/interface.js'
import { JWT_SECRET, startApp, useKey } from '../helpers/app.js'
import { countingStore } from '../helpers/counting-store.js'
import { eventually, sleep } from '../helpers/eventually.js'
import { createPool, dropTableAtEnd, onPostgres } from '../helpers/postgres.js'
import { onRedis, redisClient, redisNamespaces } from '../helpers/redis.js'
import { uniqueNamespace } from '../helpers/services.js'
import { openDatabase, sqliteFile } from '../helpers/sqlite.js'
import { isTenantAdmin, startTenantApp, tenantFromHeader, useTenantKey } from '../helpers/tenants.js'

const TTL_MS = 400
/** The stores poll every 50 ms: several polls in every cacheTtlMs period, even on a busy machine. */
const CATCH_UP_MS = 50
const PERIODS = 4
const TENANTS = ['acme', 'globex', 'initech', 'umbrella', 'hooli']

/** The tenants, each with a key written through `writer`. */
async function seed (writer: AnonKeyStore): Promise<Map<string, string>> {
  const keys = new Map<string, string>()
  for (const tenant of TENANTS) keys.set(tenant, (await keyHandle(writer, tenant).initialize(generateAnonKey())).currentKey as string)
  return keys
}

/**
 * An instance on `store` (tenant mode, cacheTtlMs 400) holding the tenants; then every tenant is used every 50 ms
 * for `periods` periods of cacheTtlMs. Resolves to the loads made meanwhile.
 */
async function loadsAtRest (t: Test, store: AnonKeyStore, keys: Map<string, string>, periods = PERIODS): Promise<number> {
  const counted = countingStore(store)
  const app = await startTenantApp(t, { store: counted.store, cacheTtlMs: TTL_MS })
  for (const [tenant, key] of keys) t.equal((await useTenantKey(app, tenant, key)).statusCode, 200, `${tenant} held`)
  counted.reset()
  return useFor(t, periods, async () => {
    for (const [tenant, key] of keys) {
      if ((await useTenantKey(app, tenant, key)).statusCode !== 200) t.fail(`${tenant}'s key was refused`)
    }
  }, () => counted.count('load'))
}

/** Runs `use` every 50 ms for `periods` periods of cacheTtlMs; resolves to what `count` moved meanwhile. */
async function useFor (t: Test, periods: number, use: () => Promise<void>, count: () => number): Promise<number> {
  const before = count()
  const until = performance.now() + periods * TTL_MS
  while (performance.now() < until) {
    await use()
    await sleep(50)
  }
  return count() - before
}

/** The store, as one that polls but never says so: its subscribers are never told of a poll. */
function withoutOnPoll (inner: AnonKeyStore): AnonKeyStore {
  return new Proxy(inner, {
    get (target, property, receiver) {
      if (property !== 'subscribe') return Reflect.get(target, property, receiver)
      return (listener: ChangeListener, options?: SubscribeOptions) => target.subscribe(listener, { ...options, onPoll: undefined })
    }
  })
}

/** A pool whose catch-up polls fail while `failing` is set; every other query runs on the real pool. */
function failingPolls (pool: Pool): { pool: PgPool, fail: (failing: boolean) => void, refused: () => number } {
  let failing = false
  let refused = 0
  return {
    pool: {
      query: (text: string, values?: any[]) => {
        if (!failing || !text.includes('txid_current_snapshot')) return pool.query(text, values)
        refused += 1
        return Promise.reject(new Error('poll refused'))
      },
      connect: () => pool.connect()
    },
    fail: (value) => { failing = value },
    refused: () => refused
  }
}

t.test('SQLite, its poll working: tenants used across several cacheTtlMs periods are not reloaded', async (t) => {
  const file = sqliteFile(t)
  const keys = await seed(sqliteStore({ database: openDatabase(t, file) }))
  const loads = await loadsAtRest(t, sqliteStore({ database: openDatabase(t, file), catchUpMs: CATCH_UP_MS }), keys)
  t.equal(loads, 0, `no load over ${PERIODS} periods of cacheTtlMs ${TTL_MS}`)
})

t.test('SQLite, its poll working: the single project is not reloaded for its age either', async (t) => {
  const store = countingStore(sqliteStore({ database: openDatabase(t, sqliteFile(t)), catchUpMs: CATCH_UP_MS }))
  const app = await startApp(t, { store: store.store, cacheTtlMs: TTL_MS })
  const key = (await app.anonKey.get()) as string
  store.reset()
  const loads = await useFor(t, PERIODS, async () => {
    if ((await useKey(app, key)).statusCode !== 200) t.fail('the key was refused')
  }, () => store.count('load'))
  t.equal(loads, 0, `no load over ${PERIODS} periods of cacheTtlMs ${TTL_MS}`)
})

t.test('SQLite, polling without telling its subscribers (a store without onPoll): cacheTtlMs reloads the tenants used', async (t) => {
  const file = sqliteFile(t)
  const keys = await seed(sqliteStore({ database: openDatabase(t, file) }))
  const loads = await loadsAtRest(t, withoutOnPoll(sqliteStore({ database: openDatabase(t, file), catchUpMs: CATCH_UP_MS })), keys)
  t.ok(loads >= TENANTS.length, `every tenant reloaded at least once over ${PERIODS} periods (${loads} loads)`)
})

t.test('the memory store (no poll): cacheTtlMs reloads the tenants used', async (t) => {
  const store = memoryStore()
  const keys = await seed(store)
  const loads = await loadsAtRest(t, store, keys)
  t.ok(loads >= TENANTS.length, `every tenant reloaded at least once over ${PERIODS} periods (${loads} loads)`)
})

t.test('a reload that failed while the poll works is tried again at the next tick; logged once, then once when it works', async (t) => {
  const file = sqliteFile(t)
  const inner = sqliteStore({ database: openDatabase(t, file), catchUpMs: CATCH_UP_MS })
  let broken = false
  const store = new Proxy(inner, {
    get (target, property, receiver) {
      if (property !== 'load') return Reflect.get(target, property, receiver)
      return (project: string) => broken ? Promise.reject(new Error('load refused')) : target.load(project)
    }
  })
  const writer = sqliteStore({ database: openDatabase(t, file) })
  const old = (await keyHandle(writer, 'acme').initialize(generateAnonKey())).currentKey as string
  const lines: Array<Record<string, any>> = []
  const app = Fastify({ logger: { level: 'info', stream: { write: (line: string) => { lines.push(JSON.parse(line)) } } } })
  app.register(anonKey, { jwt: { secret: JWT_SECRET }, store, tenant: tenantFromHeader, isAdmin: isTenantAdmin, cacheTtlMs: TTL_MS })
  app.get('/data', { onRequest: (request, reply, done) => app.verifyAnonKey(request, reply, done) }, async () => ({ ok: true }))
  t.teardown(() => app.close())
  await app.ready()
  t.equal((await useTenantKey(app, 'acme', old)).statusCode, 200)
  broken = true
  await keyHandle(writer, 'acme').rotate({ newKey: generateAnonKey(), now: Date.now(), expiresAt: Date.now() })
  await eventually('the failed reload to be logged', () => lines.some((line) => line.level === 50), 5000)
  broken = false
  await sleep(CATCH_UP_MS * 2)
  t.equal((await useTenantKey(app, 'acme', old)).statusCode, 200, 'the keys held verify meanwhile')
  await eventually('the change to be seen after the next tick', async () => (await useTenantKey(app, 'acme', old)).statusCode === 401, 3 * TTL_MS + 2000)
  const told = lines.filter((line) => line.level >= 30 && line.reqId === undefined && /anon key store/.test(line.msg))
  t.match(told, [
    { level: 50, project: 'acme', msg: 'anon key store unreachable; verifying with the last known keys' },
    { level: 30, failedReloads: 1, msg: 'anon key store reachable again, after 1 failed reloads' }
  ])
  t.equal(told.length, 2)
})

onPostgres(t, (t) => {
  const direct = createPool(t)
  const tableName = uniqueNamespace('anon_ttl')
  dropTableAtEnd(t, direct, tableName)

  t.test('PostgreSQL, its poll working: tenants used across several cacheTtlMs periods are not reloaded', async (t) => {
    const namespace = uniqueNamespace('ttl')
    const keys = await seed(postgresStore({ pool: direct, namespace, tableName }))
    const store = postgresStore({ pool: createPool(t), namespace, tableName, catchUpMs: CATCH_UP_MS })
    t.teardown(() => store.close())
    t.equal(await loadsAtRest(t, store, keys), 0, `no load over ${PERIODS} periods of cacheTtlMs ${TTL_MS}`)
  })

  t.test('PostgreSQL, its poll failing: cacheTtlMs reloads the tenants used, until the poll works again', async (t) => {
    const namespace = uniqueNamespace('ttl_fail')
    const keys = await seed(postgresStore({ pool: direct, namespace, tableName }))
    const polls = failingPolls(createPool(t))
    const counted = countingStore(postgresStore({ pool: polls.pool, namespace, tableName, catchUpMs: CATCH_UP_MS }))
    t.teardown(() => counted.store.close())
    const app = await startTenantApp(t, { store: counted.store, cacheTtlMs: TTL_MS })
    const useAll = async (): Promise<void> => {
      for (const [tenant, key] of keys) {
        if ((await useTenantKey(app, tenant, key)).statusCode !== 200) t.fail(`${tenant}'s key was refused`)
      }
    }
    await useAll()
    polls.fail(true)
    const failing = await useFor(t, PERIODS, useAll, () => counted.count('load'))
    t.ok(polls.refused() >= PERIODS, `the polls failed (${polls.refused()} refused)`)
    t.ok(failing >= TENANTS.length, `every tenant reloaded at least once while the poll failed (${failing} loads)`)
    polls.fail(false)
    await useFor(t, 2, useAll, () => 0)
    t.equal(await useFor(t, PERIODS, useAll, () => counted.count('load')), 0, 'no load once the poll works again')
  })
})

onRedis(t, (t) => {
  const admin = redisClient(t)
  const { namespace } = redisNamespaces(t, admin)

  t.test('Redis, its poll working: tenants used across several cacheTtlMs periods are not reloaded', async (t) => {
    const ns = namespace('ttl')
    const keys = await seed(redisStore({ client: admin, namespace: ns }))
    const store = redisStore({ client: redisClient(t), namespace: ns, catchUpMs: CATCH_UP_MS })
    t.teardown(() => store.close())
    t.equal(await loadsAtRest(t, store, keys), 0, `no load over ${PERIODS} periods of cacheTtlMs ${TTL_MS}`)
  })
})

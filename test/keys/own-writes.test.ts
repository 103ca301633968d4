import t from 'tap'
import type { Test } from 'tap'
import { memoryStore, postgresStore, redisStore, sqliteStore, type AnonKeyStore } from '../../lib/index.js'
import { internalsOf, startApp } from '../helpers/app.js'
import { startTenantApp } from '../helpers/tenants.js'
import { countingStore } from '../helpers/counting-store.js'
import { eventually, sleep } from '../helpers/eventually.js'
import { createPool, dropTableAtEnd, onPostgres } from '../helpers/postgres.js'
import { onRedis, redisClient } from '../helpers/redis.js'
import { uniqueNamespace } from '../helpers/services.js'
import { openDatabase, sqliteFile } from '../helpers/sqlite.js'

const CHANGES = 10
t.setTimeout(120_000)

/**
 * Two instances on one backend; one makes every change. The writer holds each change from the write's own answer
 * and loads nothing; the other loads at most once per change, its notification and its catch-up poll together.
 */
async function countLoads (t: Test, store: () => AnonKeyStore): Promise<void> {
  const writer = countingStore(store())
  const other = countingStore(store())
  const writing = await startApp(t, { store: writer.store })
  const holding = await startApp(t, { store: other.store })
  await eventually('the second instance holding the first key', async () => internalsOf(holding).single!.defaultKey === await writing.anonKey.get(), 5000)
  writer.reset()
  other.reset()
  for (let change = 0; change < CHANGES; change++) await writing.anonKey.rotate({ gracePeriodHours: 1 })
  const version = internalsOf(writing).single!.version
  await eventually('the other instance holding the last change', () => internalsOf(holding).single!.version === version, 10_000)
  await sleep(2500) // two catch-up polls: they must not reload what was heard
  t.equal(writer.count('load'), 0, `the writer loaded nothing: ${JSON.stringify(writer.counts())}`)
  t.ok(other.count('load') <= CHANGES, `the other instance loaded ${other.count('load')} times for ${CHANGES} changes`)
  const current = internalsOf(writing).single!.defaultKey as string
  t.equal((await holding.anonKey.verify(current)).valid, true, 'the other instance accepts the last key')
}

t.test('the memory store', (t) => {
  const shared = memoryStore()
  return countLoads(t, () => shared)
})

onPostgres(t, (t) => {
  t.test('PostgreSQL', async (t) => {
    const admin = createPool(t)
    const tableName = uniqueNamespace('anon_keys_writes')
    dropTableAtEnd(t, admin, tableName)
    await countLoads(t, () => postgresStore({ pool: createPool(t), tableName }))
  })
})

onRedis(t, (t) => {
  t.test('Redis', async (t) => {
    const namespace = uniqueNamespace('writes')
    await countLoads(t, () => redisStore({ client: redisClient(t), namespace }))
  })
})

t.test('SQLite', (t) => {
  const file = sqliteFile(t)
  return countLoads(t, () => sqliteStore({ database: openDatabase(t, file) }))
})

t.test('an instance that made more writes than it remembers still reloads none of them', async (t) => {
  const shared = memoryStore()
  const writer = countingStore(shared)
  const app = await startApp(t, { store: writer.store })
  writer.reset()
  for (let change = 0; change < 70; change++) await app.anonKey.rotate({ gracePeriodHours: 0 })
  await sleep(200)
  t.equal(writer.count('load'), 0, '70 writes, more than the 64 it recognises, and no load')
})

t.test('an instance without tenants ignores the changes of a tenant on the same store', async (t) => {
  const shared = memoryStore()
  const single = countingStore(shared)
  await startApp(t, { store: single.store })
  const tenants = await startTenantApp(t, { store: shared })
  single.reset()
  await tenants.anonKey.forTenant('acme').initialize()
  await sleep(200)
  t.equal(single.count('load'), 0, 'a change of tenant "acme" is not the single project\'s')
})

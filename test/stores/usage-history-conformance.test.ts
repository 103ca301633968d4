import t from 'tap'
import type { Test } from 'tap'
import { storeConformanceCases, type StoreConformanceOptions } from '../../lib/conformance/index.js'
import { memoryStore, postgresStore, redisStore, sqliteStore } from '../../lib/index.js'
import { createPool, dropTableAtEnd, onPostgres } from '../helpers/postgres.js'
import { onRedis, redisClient, redisNamespaces } from '../helpers/redis.js'
import { uniqueNamespace } from '../helpers/services.js'
import { openDatabase, sqliteFile } from '../helpers/sqlite.js'

/** The conformance cases of the usage history, run on their own for each built-in store (the memory store's run with its whole suite). */
async function historyCases (t: Test, options: StoreConformanceOptions): Promise<void> {
  const cases = storeConformanceCases(options).filter((candidate) => /usage history/.test(candidate.name))
  t.equal(cases.length, 3, 'the suite has the usage history cases')
  for (const conformanceCase of cases) await t.test(conformanceCase.name, conformanceCase.run)
}

t.test('a store without recordUsage and loadUsage passes: the cases check a history only where a store keeps one', (t) => {
  return historyCases(t, {
    createStore (namespace) {
      const { recordUsage, loadUsage, ...withoutHistory } = memoryStore({ namespace })
      return { ...withoutHistory, namespace }
    }
  })
})

t.test('SQLite store, each instance on a connection of its own to one file', (t) => {
  const file = sqliteFile(t)
  return historyCases(t, { createStore: (namespace) => sqliteStore({ database: openDatabase(t, file), namespace }) })
})

onPostgres(t, (t) => {
  t.test('PostgreSQL store', (t) => {
    const pool = createPool(t, { max: 12 })
    const tableName = uniqueNamespace('anon_usage_conf')
    dropTableAtEnd(t, pool, tableName)
    return historyCases(t, { createStore: (namespace) => postgresStore({ pool, namespace, tableName }) })
  })
})

onRedis(t, (t) => {
  const { track } = redisNamespaces(t, redisClient(t))
  t.test('Redis store, each instance on a client of its own', (t) => historyCases(t, {
    createStore (namespace) {
      track(namespace)
      return redisStore({ client: redisClient(t), namespace })
    },
    namespacePrefix: uniqueNamespace('usageconf')
  }))
})

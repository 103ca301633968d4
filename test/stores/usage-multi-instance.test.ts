import t from 'tap'
import type { Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { fingerprintOf, memoryStore, postgresStore, redisStore, sqliteStore, type AnonKeyStore } from '../../lib/index.js'
import { currentKey, internalsOf, rotate, startApp, useKey } from '../helpers/app.js'
import { CLOCK_START, fakeDateNow, HOUR_MS } from '../helpers/clock.js'
import { createPool, dropTableAtEnd, onPostgres } from '../helpers/postgres.js'
import { onRedis, redisClient, redisNamespaces } from '../helpers/redis.js'
import { uniqueNamespace } from '../helpers/services.js'
import { openDatabase, sqliteFile } from '../helpers/sqlite.js'
import { flush, usageOf } from '../helpers/usage.js'

const iso = (ms: number): string => new Date(ms).toISOString()

/**
 * Two instances of one deployment, each with a store of its own on one backend: counts made on both, over
 * several flushes and two hours, are summed exactly on both, and the previous key's figures agree.
 */
function twoInstances (t: Test, makeStore: () => AnonKeyStore): void {
  t.test('two instances: counts summed exactly over flushes and hours, read alike on both', async (t) => {
    const clock = fakeDateNow(CLOCK_START + 9 * HOUR_MS)
    t.teardown(() => clock.restore())
    const apps: FastifyInstance[] = []
    for (let i = 0; i < 2; i++) apps.push(await startApp(t, { store: makeStore() }))
    const [one, other] = apps
    const oldKey = await currentKey(one)
    t.equal((await rotate(one, { gracePeriodHours: 24 })).statusCode, 200)
    await internalsOf(other).refresh()
    const newKey = await currentKey(one)
    const counts = [[3, 2], [1, 4], [5, 0]]
    for (const [onOne, onOther] of counts) {
      for (let i = 0; i < onOne; i++) await useKey(one, newKey)
      for (let i = 0; i < onOther; i++) await useKey(other, newKey)
      await flush(one, other)
    }
    clock.advance(HOUR_MS)
    for (let i = 0; i < 2; i++) await useKey(other, oldKey)
    await useKey(one, oldKey)
    await flush(other, one)
    for (const app of apps) {
      const usage = await usageOf(app)
      t.same(usage.keys.map((key: any) => [key.fingerprint, key.role, key.hourly, key.requests24h]), [
        [fingerprintOf(newKey), 'current', [{ hour: iso(CLOCK_START + 9 * HOUR_MS), requests: 15 }], 15],
        [fingerprintOf(oldKey), 'previous', [{ hour: iso(CLOCK_START + 10 * HOUR_MS), requests: 3 }], 3]
      ], 'the figures of both instances are summed, none lost or counted twice')
      t.equal(usage.keys[1].lastUsedAt, iso(CLOCK_START + 10 * HOUR_MS))
    }
  })
}

t.test('memory store shared by two apps', (t) => {
  const store = memoryStore()
  twoInstances(t, () => ({ ...store, close: async () => {} }))
  t.end()
})

t.test('SQLite store, two connections to one file', (t) => {
  const file = sqliteFile(t)
  const namespace = uniqueNamespace('usage')
  twoInstances(t, () => sqliteStore({ database: openDatabase(t, file), namespace }))
  t.end()
})

onPostgres(t, (t) => {
  const tableName = uniqueNamespace('anon_usage_multi')
  dropTableAtEnd(t, createPool(t), tableName)
  const namespace = uniqueNamespace('usage')
  twoInstances(t, () => postgresStore({ pool: createPool(t), namespace, tableName }))
})

onRedis(t, (t) => {
  const { namespace } = redisNamespaces(t, redisClient(t))
  const name = namespace('usage')
  twoInstances(t, () => redisStore({ client: redisClient(t), namespace: name }))
})

import t from 'tap'
import type { Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { memoryStore, postgresStore, redisStore, sqliteStore, type AnonKeyStore } from '../../lib/index.js'
import { fingerprintOf } from '../../lib/stores/index.js'
import { currentKey, internalsOf, listPrevious, rotate, startApp, useKey } from '../helpers/app.js'
import { eventually } from '../helpers/eventually.js'
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
function twoInstances (t: Test, makeStore: (test: string) => AnonKeyStore): void {
  t.test('two instances: counts summed exactly over flushes and hours, read alike on both', async (t) => {
    const clock = fakeDateNow(CLOCK_START + 9 * HOUR_MS)
    t.teardown(() => clock.restore())
    const apps: FastifyInstance[] = []
    for (let i = 0; i < 2; i++) apps.push(await startApp(t, { store: makeStore('counts') }))
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

/**
 * Two instances see a rotated-in key's first use at once: it is written once (one firstUsed event), and the
 * grace it starts ends the old key on both, the one that lost the race included.
 */
function firstUseRace (t: Test, makeStore: (test: string) => AnonKeyStore): void {
  t.test('two instances see the first use at once: written once, the grace applies on both', async (t) => {
    const clock = fakeDateNow(CLOCK_START)
    t.teardown(() => clock.restore())
    const apps: FastifyInstance[] = []
    for (let i = 0; i < 2; i++) apps.push(await startApp(t, { store: makeStore('first-use') }))
    const [one, other] = apps
    const events: string[] = []
    for (const app of apps) app.anonKey.on('firstUsed', (event) => { events.push(event.fingerprint) })
    const oldKey = await currentKey(one)
    const { anonKey } = (await rotate(one, { gracePeriodHours: 1, graceStartsAt: 'first-use' })).json()
    await internalsOf(other).refresh()
    const firstUse = clock.now()
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => useKey(apps[i % 2], anonKey)))
    t.same(answers.map((answer) => answer.statusCode), Array(6).fill(200))
    await eventually('both instances to know the grace the first use started', async () => {
      const listed = await Promise.all(apps.map(async (app) => (await listPrevious(app) as any[])[0]?.expiresAt))
      return listed.every((expiresAt) => expiresAt === iso(firstUse + HOUR_MS))
    }, 5000)
    t.same(events, [fingerprintOf(anonKey)], 'one firstUsed event in all')
    clock.advance(HOUR_MS)
    await eventually('both instances to refuse the old key', async () => {
      const codes = await Promise.all(apps.map(async (app) => (await useKey(app, oldKey)).json().error))
      return codes.every((code) => code === 'ANON_KEY_EXPIRED')
    }, 5000)
  })
}

/** `makeStore(test)`: a store on the backend, on one namespace per test, shared by that test's instances. */
function bothCases (t: Test, makeStore: (test: string) => AnonKeyStore): void {
  twoInstances(t, makeStore)
  firstUseRace(t, makeStore)
}

t.test('memory store shared by two apps', (t) => {
  const stores = new Map<string, AnonKeyStore>()
  bothCases(t, (test) => {
    if (!stores.has(test)) stores.set(test, memoryStore())
    return { ...stores.get(test) as AnonKeyStore, close: async () => {} }
  })
  t.end()
})

t.test('SQLite store, two connections to one file', (t) => {
  const file = sqliteFile(t)
  const namespace = uniqueNamespace('usage')
  bothCases(t, (test) => sqliteStore({ database: openDatabase(t, file), namespace: `${namespace}_${test}` }))
  t.end()
})

onPostgres(t, (t) => {
  const tableName = uniqueNamespace('anon_usage_multi')
  dropTableAtEnd(t, createPool(t), tableName)
  const namespace = uniqueNamespace('usage')
  bothCases(t, (test) => postgresStore({ pool: createPool(t), namespace: `${namespace}_${test}`, tableName }))
})

onRedis(t, (t) => {
  const { namespace, track } = redisNamespaces(t, redisClient(t))
  const name = namespace('usage')
  bothCases(t, (test) => redisStore({ client: redisClient(t), namespace: track(`${name}_${test}`) }))
})

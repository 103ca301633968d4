import t from 'tap'
import type { Test } from 'tap'
import { postgresStore, redisStore, type AnonKeyStore } from '../../lib/index.js'
import { generateAnonKey } from '../../lib/stores/index.js'
import { internalsOf, startApp } from '../helpers/app.js'
import { countingStore } from '../helpers/counting-store.js'
import { eventually, sleep } from '../helpers/eventually.js'
import { createPool, dropTableAtEnd, onPostgres } from '../helpers/postgres.js'
import { onRedis, redisClient } from '../helpers/redis.js'
import { uniqueNamespace } from '../helpers/services.js'

/**
 * A rolling upgrade: a 0.2 instance still writes, and announces its changes in 0.2's formats, without the version
 * and revision. An instance of this release reloads for them (it cannot tell what they wrote), and ignores what
 * it cannot read.
 */
async function holding (t: Test, store: AnonKeyStore): Promise<{ loads: () => number, version: () => number }> {
  const counting = countingStore(store)
  const app = await startApp(t, { store: counting.store })
  counting.reset()
  return { loads: () => counting.count('load'), version: () => internalsOf(app).single!.version }
}

onPostgres(t, (t) => {
  t.test('PostgreSQL: a notification without a version reloads the project', async (t) => {
    const admin = createPool(t)
    const tableName = uniqueNamespace('anon_keys_old_notify')
    dropTableAtEnd(t, admin, tableName)
    const instance = await holding(t, postgresStore({ pool: createPool(t), tableName }))
    await admin.query('SELECT pg_notify($1, $2)', ['anon_key_changes', JSON.stringify(['default', ''])])
    await eventually('a reload for the notification of 0.2', () => instance.loads() === 1, 5000)
  })
})

onRedis(t, (t) => {
  t.test('Redis: a message of 0.2 (the project alone) is ignored; the change arrives through the poll', async (t) => {
    const namespace = uniqueNamespace('old_messages')
    const admin = redisClient(t)
    const instance = await holding(t, redisStore({ client: redisClient(t), namespace }))
    await admin.publish(`fastify-anon-key:${namespace}:changes`, '')
    await sleep(300)
    t.equal(instance.loads(), 0, 'a message without a version names no change this release can read')
    // A change made by 0.2: written without this release's message, logged without a version beside it.
    const writer = redisStore({ client: redisClient(t), namespace })
    await writer.update('', (state) => ({ result: null, announce: false, next: { ...state, keys: state.keys.map((key) => ({ ...key, currentKey: generateAnonKey() })) } }))
    const tag = `{fastify-anon-key:${namespace}}`
    await admin.zadd(`${tag}:changed`, await admin.incr(`${tag}:sequence`), '')
    const before = instance.version()
    await eventually('the poll bringing the change', () => instance.version() > before, 5000)
  })
})

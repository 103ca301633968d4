import t from 'tap'
import { performance } from 'node:perf_hooks'
import { generateAnonKey } from '../../lib/domain/key.js'
import { postgresStore } from '../../lib/stores/postgres/postgres-store.js'
import { adminHeaders, currentKey, rotate, useKey } from '../helpers/app.js'
import { createPool, dropTableAtEnd, onPostgres, PG_HOST, PG_PORT, pgInstance } from '../helpers/postgres.js'
import { uniqueNamespace } from '../helpers/services.js'
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js'
import { keyHandle } from '../../lib/conformance/index.js'
import { eventually } from '../helpers/eventually.js'

const STORE_TIMEOUT_MS = 500
/** What "within storeTimeoutMs plus a little" allows, on a shared and busy test machine. */
const ANSWER_BOUND_MS = STORE_TIMEOUT_MS + 1500

onPostgres(t, (t) => {
  const tableName = uniqueNamespace('anon_outage')
  const direct = createPool(t)
  dropTableAtEnd(t, direct, tableName)
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
  process.on('unhandledRejection', onUnhandled)
  t.teardown(() => { process.removeListener('unhandledRejection', onUnhandled) })

  async function behindProxy (t: Parameters<Parameters<typeof onPostgres>[1]>[0]) {
    const proxy: TcpProxy = await startTcpProxy(PG_HOST, PG_PORT)
    t.teardown(() => proxy.close())
    const namespace = uniqueNamespace('outage')
    const cut = pgInstance(t, {
      namespace,
      tableName,
      port: proxy.port,
      pool: { connectionTimeoutMillis: 300, max: 4 },
      plugin: { storeTimeoutMs: STORE_TIMEOUT_MS }
    })
    const healthy = pgInstance(t, { namespace, tableName })
    await cut.app.ready()
    await healthy.app.ready()
    return { proxy, cut: cut.app, healthy: healthy.app, namespace }
  }

  for (const mode of ['refuse', 'blackhole'] as const) {
    t.test(`store cut off (${mode}): last keys verify with expiry enforced, admin routes answer 503 in time, all recovers`, async (t) => {
      const { proxy, cut, healthy, namespace } = await behindProxy(t)
      // Rotated straight through the store (times come from the caller): a previous key whose grace ends in 1.5 s.
      const shortLived = await currentKey(cut)
      const now = Date.now()
      const store = postgresStore({ pool: direct, namespace, tableName })
      const outcome = await keyHandle(store).rotate({ newKey: generateAnonKey(), now, expiresAt: now + 1500 })
      const newKey = outcome?.snapshot.currentKey as string
      await eventually('the instance heard of the rotation before the cut', async () => (await useKey(cut, newKey)).statusCode === 200, 5000)

      proxy.cut(mode)
      t.equal((await useKey(cut, newKey)).statusCode, 200, 'the current key keeps verifying while the store is down')
      t.equal((await useKey(cut, shortLived)).statusCode, 200, 'a previous key keeps verifying within its grace while the store is down')
      for (const [what, request] of [
        ['GET the key', { url: '/api/metadata/anon-key' }],
        ['rotate', { method: 'POST' as const, url: '/api/secrets/anon-key/rotate' }],
        ['list previous keys', { url: '/api/secrets/anon-key/previous' }]
      ] as const) {
        const started = performance.now()
        const response = await cut.inject({ ...request, headers: adminHeaders() })
        const took = performance.now() - started
        t.comment(`${mode}: ${what} answered ${response.statusCode} after ${took.toFixed(0)} ms`)
        t.equal(response.statusCode, 503, `${what} answered ${response.statusCode} ${response.body}`)
        t.equal(response.json().error, 'STORE_UNAVAILABLE')
        t.ok(took < ANSWER_BOUND_MS, `${what} answered within ${ANSWER_BOUND_MS} ms (took ${took.toFixed(0)} ms)`)
      }
      await eventually('the previous key stops verifying when its grace ends, store or no store', async () => (await useKey(cut, shortLived)).statusCode === 401, 3000)
      t.equal((await useKey(cut, shortLived)).json().error, 'ANON_KEY_EXPIRED')

      proxy.restore()
      await eventually('admin routes answer again once the store is back', async () => (await cut.inject({ url: '/api/metadata/anon-key', headers: adminHeaders() })).statusCode === 200, 10_000)
      const rotated = await rotate(cut, { gracePeriodHours: 0 })
      t.equal(rotated.statusCode, 200, `rotate after the outage answered ${rotated.body}`)
      const afterRotation = rotated.json().anonKey
      await eventually('the other instance hears of a rotation made by the recovered one', async () => (await useKey(healthy, newKey)).statusCode === 401, 5000)
      const fromHealthy = (await rotate(healthy, { gracePeriodHours: 0 })).json().anonKey
      await eventually('the recovered instance hears of a rotation made elsewhere', async () => (await useKey(cut, afterRotation)).statusCode === 401, 5000)
      t.equal((await useKey(cut, fromHealthy)).statusCode, 200, 'and verifies the new key')
      t.same(unhandled, [], 'no unhandled rejection')
    })
  }

  t.test('a rotation cut off while it waits for the row lock fails alone; a store closed during the outage stops retrying', async (t) => {
    const proxy = await startTcpProxy(PG_HOST, PG_PORT)
    t.teardown(() => proxy.close())
    const namespace = uniqueNamespace('outage_lock')
    const channel = uniqueNamespace('outage_lock_channel')
    const proxied = postgresStore({ pool: createPool(t, { port: proxy.port, connectionTimeoutMillis: 300 }), namespace, tableName, channel })
    const store = postgresStore({ pool: direct, namespace, tableName, channel })
    const key = generateAnonKey()
    await keyHandle(store).initialize(key)
    await proxied.subscribe(() => {})

    const locker = await direct.connect()
    t.teardown(() => locker.release())
    await locker.query('BEGIN')
    await locker.query(`SELECT 1 FROM "${tableName}" WHERE namespace = $1 FOR UPDATE`, [namespace])
    const now = Date.now()
    const rotating = keyHandle(proxied).rotate({ newKey: generateAnonKey(), now, expiresAt: now })
    const waiting = async () => (await direct.query("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1", [`%"${tableName}"%FOR UPDATE`])).rowCount !== 0
    await eventually('the rotation waits for the row lock', waiting, 5000)
    proxy.cut('refuse')
    await t.rejects(rotating, 'the rotation fails with its connection')
    await locker.query('ROLLBACK')
    t.equal((await keyHandle(store).load()).currentKey, key, 'the key is unchanged')

    // The listening connection was cut too and is being retried (after 100 ms, then 200 ms): close in between.
    await new Promise((resolve) => setTimeout(resolve, 200))
    await proxied.close()
    proxy.restore()
    await new Promise((resolve) => setTimeout(resolve, 500))
    const listening = await direct.query('SELECT 1 FROM pg_stat_activity WHERE query = $1', [`LISTEN "${channel}"`])
    t.equal(listening.rowCount, 0, 'a closed store does not reconnect its listening connection')
    t.same(unhandled, [], 'no unhandled rejection')
  })

  t.test('a store first used while the database is down creates its table once it is back', async (t) => {
    const proxy = await startTcpProxy(PG_HOST, PG_PORT)
    t.teardown(() => proxy.close())
    const pool = createPool(t, { port: proxy.port, connectionTimeoutMillis: 300 })
    const freshTable = uniqueNamespace('anon_outage_late')
    dropTableAtEnd(t, direct, freshTable)
    const store = postgresStore({ pool, tableName: freshTable })
    proxy.cut('refuse')
    await t.rejects(keyHandle(store).load(), 'load fails while the database is unreachable')
    proxy.restore()
    const key = generateAnonKey()
    t.equal((await keyHandle(store).initialize(key)).currentKey, key, 'the store works once the database is back')
  })
})

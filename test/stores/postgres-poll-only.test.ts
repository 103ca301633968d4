import t from 'tap'
import { performance } from 'node:perf_hooks'
import { buildApp, currentKey, rotate, useKey } from '../helpers/app.js'
import { postgresStore, type PgPool } from '../../lib/index.js'
import { createPool, dropTableAtEnd, onPostgres } from '../helpers/postgres.js'
import { uniqueNamespace } from '../helpers/services.js'

const CATCH_UP_MS = 200
/** The bound of poll-only mode: about catchUpMs, plus the poll's own time, with room for a busy machine. */
const BOUND_MS = CATCH_UP_MS + 800

onPostgres(t, (t) => {
  const direct = createPool(t)
  const tableName = uniqueNamespace('anon_poll_only')
  dropTableAtEnd(t, direct, tableName)

  /** The LISTEN connections of the whole server, by their last statement. */
  const listening = async (): Promise<number> =>
    (await direct.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query ILIKE 'LISTEN%'")).rows[0].n

  t.test('listen: false opens no LISTEN connection, and a rotation on one instance reaches another within catchUpMs', async (t) => {
    const namespace = uniqueNamespace('pollonly')
    const before = await listening()
    const pools = [createPool(t, { application_name: `${namespace}_a` }), createPool(t, { application_name: `${namespace}_b` })]
    const apps = pools.map((pool) => buildApp({ store: postgresStore({ pool, namespace, tableName, listen: false, catchUpMs: CATCH_UP_MS }) }))
    t.teardown(() => Promise.all(apps.map((app) => app.close())))
    await Promise.all(apps.map((app) => app.ready()))
    const [one, other] = apps
    const oldKey = await currentKey(one)
    t.equal(await currentKey(other), oldKey, 'both instances serve the same key')
    const theirs = await direct.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name IN ($1, $2) AND query ILIKE 'LISTEN%'",
      [`${namespace}_a`, `${namespace}_b`])
    t.equal(theirs.rows[0].n, 0, 'no connection of either instance ever ran LISTEN')
    t.equal(await listening(), before, 'no LISTEN connection more on the server')

    const delays: number[] = []
    for (let round = 0; round < 3; round++) {
      const previous = await currentKey(other)
      const rotatedAt = performance.now()
      const response = await rotate(one, { gracePeriodHours: 0 })
      t.equal(response.statusCode, 200, `rotate answered ${response.body}`)
      let answer = await useKey(other, previous)
      while (answer.statusCode === 200 && performance.now() - rotatedAt < BOUND_MS) {
        await new Promise((resolve) => setTimeout(resolve, 5))
        answer = await useKey(other, previous)
      }
      delays.push(performance.now() - rotatedAt)
      t.equal(answer.statusCode, 401, `the other instance refuses the old key within ${BOUND_MS} ms`)
      t.equal((await useKey(other, response.json().anonKey)).statusCode, 200, 'and accepts the new one')
    }
    t.comment(`poll-only propagation with catchUpMs ${CATCH_UP_MS}: ${delays.map((ms) => ms.toFixed(0)).join(', ')} ms`)
  })

  t.test('listen: false never checks a connection out for listening, and polls on the pool', async (t) => {
    const pool = createPool(t)
    let checkedOut = 0
    let polls = 0
    const counted: PgPool = {
      query: (text: string, values?: any[]) => {
        if (text.includes('txid_current_snapshot')) polls += 1
        return pool.query(text, values)
      },
      connect: () => {
        checkedOut += 1
        return pool.connect()
      }
    }
    const store = postgresStore({ pool: counted, namespace: uniqueNamespace('nolisten'), tableName, listen: false, catchUpMs: 50 })
    t.teardown(() => store.close())
    await store.load('')
    const connections = checkedOut
    const stop = await store.subscribe(() => {})
    await new Promise((resolve) => setTimeout(resolve, 300))
    t.equal(checkedOut, connections, 'subscribe checked no connection out of the pool')
    t.ok(polls >= 2, `it polls (${polls})`)
    await stop()
  })

  t.test('listen: true is the default', async (t) => {
    const channel = uniqueNamespace('anon_listens')
    const store = postgresStore({ pool: createPool(t), namespace: uniqueNamespace('listens'), tableName, channel, listen: true })
    t.teardown(() => store.close())
    await store.subscribe(() => {})
    const found = await direct.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = $1', [`LISTEN "${channel}"`])
    t.equal(found.rows[0].n, 1, 'one LISTEN connection')
  })
})

import t from 'tap'
import type { Pool } from 'pg'
import { digestOf, generateAnonKey } from '../../lib/domain/key.js'
import { postgresStore } from '../../lib/stores/postgres/postgres-store.js'
import { runStoreConformance } from '../../lib/conformance/index.js'
import { createPool, dropTableAtEnd, onPostgres } from '../helpers/postgres.js'
import { uniqueNamespace } from '../helpers/services.js'
import { eventually } from '../helpers/eventually.js'
import { keyHandle } from '../../lib/conformance/index.js'

const HOUR_MS = 60 * 60 * 1000

/** The server process that LISTENs on `channel` for a store, or null. */
/**
 * The server process that LISTENs on `channel`, or null. A connection the pool discards hangs up at once, but its
 * server process ends a moment later (longer on a busy machine): callers wait for null with a bound.
 */
async function listenerPid (pool: Pool, channel: string): Promise<number | null> {
  const result = await pool.query('SELECT pid FROM pg_stat_activity WHERE query = $1', [`LISTEN "${channel}"`])
  return result.rows[0]?.pid ?? null
}

// The record-limit case of the conformance suite makes 1,002 rotations, each rewriting up to 1,000 records.
t.setTimeout(180_000)

/** A pool on `pool` whose next connection, after killNext(), is terminated by the server as it is handed out. */
function killingPool (pool: Pool) {
  let kill = false
  return {
    killNext: () => { kill = true },
    query: pool.query.bind(pool) as Pool['query'],
    async connect () {
      const client = await pool.connect()
      if (kill) {
        kill = false
        // The connection reports the kill as 'error' events, then 'end': hand it out only once it has ended.
        client.on('error', () => {})
        const ended = new Promise((resolve) => client.once('end', resolve))
        await pool.query('SELECT pg_terminate_backend($1)', [(client as unknown as { processID: number }).processID])
        await ended
      }
      return client
    }
  }
}

onPostgres(t, (t) => {
  t.test('postgresStore passes the conformance suite', async (t) => {
    // Commits wait for no disk flush here: the 1,002 rotations of the record-limit case then take seconds, not tens.
    const pool = createPool(t, { max: 12, options: '-c synchronous_commit=off' })
    const tableName = uniqueNamespace('anon_conformance')
    dropTableAtEnd(t, pool, tableName)
    await runStoreConformance(t, {
      createStore: (namespace) => postgresStore({ pool, namespace, tableName }),
      readRaw: async (namespace) => JSON.stringify([
        ...(await pool.query(`SELECT * FROM "${tableName}" WHERE namespace = $1`, [namespace])).rows,
        ...(await pool.query(`SELECT * FROM "${tableName}_retired" WHERE namespace = $1`, [namespace])).rows
      ])
    })
  })

  t.test('the table holds one row a project: namespace, project, version, and the document with previous keys as digests', async (t) => {
    const pool = createPool(t)
    const tableName = uniqueNamespace('anon_layout')
    dropTableAtEnd(t, pool, tableName)
    const store = postgresStore({ pool, tableName, namespace: 'app-1' })
    const [first, second] = [generateAnonKey(), generateAnonKey()]
    await keyHandle(store).initialize(first)
    const now = Date.now()
    const outcome = await keyHandle(store).rotate({ newKey: second, now, expiresAt: now + HOUR_MS })
    await keyHandle(store, 'tenant-a').initialize(generateAnonKey())
    const { rows } = await pool.query(`SELECT * FROM "${tableName}" ORDER BY project`)
    t.same(rows.map((row) => [row.namespace, row.project, row.version]), [['app-1', '', '2'], ['app-1', 'tenant-a', '1']])
    t.same(rows[0].state, (await store.load('')).state)
    t.same(rows[0].state.keys[0].previousKeys, [outcome?.retired])
    t.equal(rows[0].state.keys[0].currentKey, second)
    t.notOk(JSON.stringify(rows).includes(first.slice(5)), 'the old key is not in the table')
  })

  t.test('retired keys are rows of <table>_retired: one a key, digests and times only, read and trimmed on the primary key', async (t) => {
    const pool = createPool(t)
    const tableName = uniqueNamespace('anon_retired')
    dropTableAtEnd(t, pool, tableName)
    const store = postgresStore({ pool, tableName, namespace: 'app-1' })
    const first = generateAnonKey()
    await keyHandle(store).initialize(first)
    const now = Date.now()
    await keyHandle(store).rotate({ newKey: generateAnonKey(), now, expiresAt: now })
    const { rows } = await pool.query(`SELECT * FROM "${tableName}_retired"`)
    t.same(rows, [{ namespace: 'app-1', project: '', retired_at: String(now), digest: digestOf(first), name: 'default', rotated_at: String(now), expires_at: String(now), revoked_at: null }])
    const { rows: [index] } = await pool.query('SELECT indexdef FROM pg_indexes WHERE tablename = $1', [`${tableName}_retired`])
    t.match(index.indexdef, /UNIQUE INDEX .* \(namespace, project, retired_at, digest\)/, 'one index serves the newest-first read and the trim')
  })

  t.test('instances that start together on a new table create it once and agree on one key', async (t) => {
    const tableName = uniqueNamespace('anon_race')
    const pools = Array.from({ length: 6 }, () => createPool(t, { max: 2 }))
    dropTableAtEnd(t, pools[0], tableName)
    const candidates = pools.map(() => generateAnonKey())
    const results = await Promise.all(pools.map((pool, i) => keyHandle(postgresStore({ pool, tableName })).initialize(candidates[i])))
    t.equal(new Set(results.map((snapshot) => snapshot.currentKey)).size, 1, 'every instance got the same key')
    t.ok(candidates.includes(results[0].currentKey as string))
  })

  t.test('a table name may name its schema', async (t) => {
    const pool = createPool(t)
    const tableName = uniqueNamespace('anon_schema')
    dropTableAtEnd(t, pool, tableName)
    const store = postgresStore({ pool, tableName: `public.${tableName}` })
    const key = generateAnonKey()
    t.equal((await keyHandle(store).initialize(key)).currentKey, key)
  })

  t.test('bad options are refused with the option named', async (t) => {
    const pool = createPool(t)
    t.throws(() => postgresStore({ pool: {} as Pool }), /option "pool" must be a pg Pool/)
    t.throws(() => postgresStore({ pool: undefined as unknown as Pool }), /option "pool"/)
    t.throws(() => postgresStore({ pool, tableName: 'keys; DROP TABLE x' }), /option "tableName" must be a name of letters, digits and _ \(or schema.name\)/)
    t.throws(() => postgresStore({ pool, tableName: 'a.b.c' }), /option "tableName"/)
    t.throws(() => postgresStore({ pool, channel: 'public.changes' }), /option "channel" must be a name of letters, digits and _, got "public.changes"/)
    t.throws(() => postgresStore({ pool, namespace: '' }), /option "namespace" must be a string of 1 to 200 characters/)
    t.throws(() => postgresStore({ pool, namespace: 'x'.repeat(201) }), /option "namespace"/)
  })

  t.test('notifications resume after the server kills the listening connection, with one call for what was missed', async (t) => {
    const pool = createPool(t)
    const tableName = uniqueNamespace('anon_kill')
    const channel = uniqueNamespace('anon_kill_channel')
    dropTableAtEnd(t, pool, tableName)
    const listening = postgresStore({ pool, tableName, channel })
    const changing = postgresStore({ pool, tableName, channel })
    t.teardown(() => listening.close())
    await keyHandle(changing).initialize(generateAnonKey())
    let calls = 0
    await listening.subscribe(() => { calls += 1 })
    const pid = await listenerPid(pool, channel)
    t.ok(pid !== null, 'the store listens on its own connection')
    await pool.query('SELECT pg_terminate_backend($1)', [pid])
    await eventually('a notification', async () => calls === 1, 5000)
    t.equal(calls, 1, 'listeners hear once that the connection came back')
    const newPid = await listenerPid(pool, channel)
    t.ok(newPid !== null && newPid !== pid, 'a new listening connection replaced the killed one')
    const now = Date.now()
    await keyHandle(changing).rotate({ newKey: generateAnonKey(), now, expiresAt: now + HOUR_MS })
    await eventually('a second notification', () => calls === 2, 5000)
    t.pass('a change made after the reconnect is heard')
  })

  t.test('a shared channel\'s foreign notifications (not JSON, another namespace) are ignored; the store\'s own are heard with their project', async (t) => {
    const pool = createPool(t)
    const tableName = uniqueNamespace('anon_shared')
    const channel = uniqueNamespace('anon_shared_channel')
    dropTableAtEnd(t, pool, tableName)
    const store = postgresStore({ pool, tableName, channel, namespace: 'mine' })
    t.teardown(() => store.close())
    const heard: Array<string | null> = []
    await store.subscribe((project) => { heard.push(project) })
    await pool.query('SELECT pg_notify($1, $2), pg_notify($1, $3), pg_notify($1, $4)', [channel, 'not json', JSON.stringify(['theirs', '']), JSON.stringify(['mine', 7])])
    await keyHandle(store, 'tenant-a').initialize(generateAnonKey())
    await eventually('a notification', () => heard.length > 0, 5000)
    t.same(heard, ['tenant-a'], 'only the store\'s own change was heard, naming its project')
  })

  t.test('subscribe rejects when the listening connection dies while it starts, and a later subscribe works', async (t) => {
    const pool = createPool(t)
    const tableName = uniqueNamespace('anon_listen_fail')
    const channel = uniqueNamespace('anon_listen_fail_channel')
    dropTableAtEnd(t, pool, tableName)
    const killing = killingPool(pool)
    const store = postgresStore({ pool: killing, tableName, channel })
    t.teardown(() => store.close())
    await store.load('') // the table is made first, so that the connection killed is the one for LISTEN
    killing.killNext()
    await t.rejects(store.subscribe(() => {}), 'the first subscribe fails with the connection')
    let calls = 0
    await store.subscribe(() => { calls += 1 })
    await keyHandle(store).initialize(generateAnonKey())
    await eventually('a notification', () => calls === 1, 5000)
    t.pass('the second subscribe hears changes')
  })

  t.test('a rotation whose connection dies fails alone: the key is unchanged and the next rotation works', async (t) => {
    const pool = createPool(t)
    const tableName = uniqueNamespace('anon_tx_kill')
    dropTableAtEnd(t, pool, tableName)
    const killing = killingPool(pool)
    const store = postgresStore({ pool: killing, tableName })
    const key = generateAnonKey()
    await keyHandle(store).initialize(key)
    killing.killNext()
    const now = Date.now()
    await t.rejects(keyHandle(store).rotate({ newKey: generateAnonKey(), now, expiresAt: now + HOUR_MS }), 'the rotation reports the failure')
    t.equal((await keyHandle(store).load()).currentKey, key, 'the failed rotation changed nothing')
    const outcome = await keyHandle(store).rotate({ newKey: generateAnonKey(), now, expiresAt: now + HOUR_MS })
    t.equal(outcome?.retired.expiresAt, now + HOUR_MS, 'the next rotation goes through')
    t.equal(pool.totalCount - pool.idleCount, 0, 'no connection is left checked out')
  })

  t.test('an idle pool connection dropped by the server does not crash the process', async (t) => {
    const pool = createPool(t, { max: 1 })
    const store = postgresStore({ pool })
    const { rows: [{ pid }] } = await pool.query('SELECT pg_backend_pid() AS pid')
    const other = createPool(t, { max: 1 })
    await other.query('SELECT pg_terminate_backend($1)', [pid])
    await eventually('the pool to hold no connection', () => pool.totalCount === 0, 5000)
    t.equal((await pool.query('SELECT 1 AS ok')).rows[0].ok, 1, 'the pool made a new connection')
    t.equal(pool.listenerCount('error'), 1, 'the store listens for the pool\'s errors')
    await store.close()
    t.equal(pool.listenerCount('error'), 0, 'close removes the listener')
  })

  t.test('subscribe rejects when the database cannot be reached', async (t) => {
    const pool = createPool(t, { port: 1, connectionTimeoutMillis: 1000 })
    const store = postgresStore({ pool })
    await t.rejects(store.subscribe(() => {}))
    await store.close()
  })

  t.test('close while subscribe is still connecting releases the connection', async (t) => {
    const pool = createPool(t, { max: 1 })
    const channel = uniqueNamespace('anon_close_early')
    const store = postgresStore({ pool, channel })
    const subscribing = store.subscribe(() => {})
    await store.close()
    await subscribing
    await eventually('every connection of the pool to be idle', async () => pool.totalCount === 0 || pool.idleCount === pool.totalCount, 5000)
    t.equal((await pool.query('SELECT 1 AS ok')).rows[0].ok, 1, 'the only pool connection is free again')
    await eventually('the server to end a discarded connection', async () => await listenerPid(pool, channel) === null, 5000, { pollMs: 20 })
    t.equal(await listenerPid(pool, channel), null, 'nothing listens any more')
  })

  t.test('close while the listening connection is on its way releases it when it comes, and nothing listens', async (t) => {
    const pool = createPool(t)
    const direct = createPool(t, { max: 1 })
    let asked = (): void => {}
    const connectAsked = new Promise<void>((resolve) => { asked = resolve })
    let open = (): void => {}
    const gate = new Promise<void>((resolve) => { open = resolve })
    // A listenPool whose connection arrives only when the test says so: close() lands while LISTEN is on its way.
    const listenPool = {
      query: direct.query.bind(direct),
      on: direct.on.bind(direct),
      removeListener: direct.removeListener.bind(direct),
      async connect () {
        asked()
        await gate
        return direct.connect()
      }
    } as unknown as Pool
    const channel = uniqueNamespace('anon_close_listen')
    const store = postgresStore({ pool, listenPool, channel })
    await store.load('')
    const subscribing = store.subscribe(() => {})
    await connectAsked
    await store.close()
    open()
    await subscribing
    await eventually('the listening connection to be given back', async () => direct.idleCount === direct.totalCount, 5000)
    await eventually('the server to end the discarded connection', async () => await listenerPid(pool, channel) === null, 5000, { pollMs: 20 })
    t.equal(await listenerPid(pool, channel), null, 'nothing listens on the channel')
  })
})

import t, { type Test } from 'tap'
import type { Pool } from 'pg'
import { generateAnonKey } from '../../lib/domain/key.js'
import { postgresStore, type PgPool } from '../../lib/index.js'
import { keyHandle } from '../../lib/conformance/index.js'
import { counter } from '../../lib/conformance/tools.js'
import { createPool, dropTableAtEnd, onPostgres, PG_HOST, PG_PORT } from '../helpers/postgres.js'
import { uniqueNamespace } from '../helpers/services.js'
import { eventually } from '../helpers/eventually.js'
import { watchUnhandled } from '../helpers/unhandled.js'
import { checkNoMorePolls, checkOutageLoggedOnce, keptLog } from '../helpers/kept-log.js'
import { startTcpProxy } from '../helpers/tcp-proxy.js'

/** The bound the contract promises for a lost notification, with the default catchUpMs of 1000. */
const BOUND_MS = 2000

/** A pool that counts the catch-up polls it runs, and runs every query on the real pool. */
function countingPolls (pool: Pool): { pool: PgPool, polls: () => number } {
  let polls = 0
  return {
    pool: {
      query: (text: string, values?: any[]) => {
        if (text.includes('txid_snapshot_xmin')) polls += 1
        return pool.query(text, values)
      },
      connect: () => pool.connect()
    },
    polls: () => polls
  }
}

onPostgres(t, (t) => {
  const direct = createPool(t)
  const tableName = uniqueNamespace('anon_catch_up')
  dropTableAtEnd(t, direct, tableName)

  /**
   * Two stores on one namespace and table that never hear each other's notifications (each LISTENs on its own
   * channel): whatever one hears of the other's changes, it heard through the catch-up poll.
   */
  function deafPair (t: Test, catchUpMs?: number) {
    const namespace = uniqueNamespace('deaf')
    const writer = postgresStore({ pool: createPool(t), namespace, tableName, channel: uniqueNamespace('writes') })
    const reader = postgresStore({ pool: createPool(t), namespace, tableName, channel: uniqueNamespace('reads'), catchUpMs })
    t.teardown(async () => { await writer.close(); await reader.close() })
    return { writer, reader, namespace }
  }

  t.test('a change whose notification never arrives is heard through the poll within 2 s, by its project', async (t) => {
    const { writer, reader } = deafPair(t)
    const heard = counter()
    await reader.subscribe(heard.listener)
    const started = performance.now()
    await keyHandle(writer, 'tenant-a').initialize(generateAnonKey())
    const took = await eventually('the reader to hear tenant-a', () => heard.projects.includes('tenant-a'), BOUND_MS, { started })
    t.comment(`heard through the poll after ${took.toFixed(0)} ms (catchUpMs 1000)`)
    await keyHandle(writer, 'tenant-b').initialize(generateAnonKey())
    await eventually('the reader to hear tenant-b', () => heard.projects.includes('tenant-b'), BOUND_MS)
    t.same(heard.projects, ['tenant-a', 'tenant-b'], 'each change is reported once, by its project, and nothing else')
  })

  t.test('a transaction that started first and commits last is not skipped by the poll', async (t) => {
    const { writer, reader, namespace } = deafPair(t, 100)
    await keyHandle(writer, 'late').initialize(generateAnonKey())
    const heard = counter()
    await reader.subscribe(heard.listener)
    // The slow transaction takes its id first, then a quick one commits and is polled, then the slow one commits.
    const slow = await direct.connect()
    t.teardown(() => slow.release())
    await slow.query('BEGIN')
    await slow.query('SELECT txid_current()')
    await keyHandle(writer, 'quick').initialize(generateAnonKey())
    await eventually('the reader to hear the quick change', () => heard.projects.includes('quick'), BOUND_MS)
    await slow.query(`UPDATE "${tableName}" SET version = version + 1, changed = txid_current() WHERE namespace = $1 AND project = 'late'`, [namespace])
    await slow.query('COMMIT')
    await eventually('the reader to hear the change that committed last', () => heard.projects.includes('late'), BOUND_MS)
  })

  t.test('a write that is not announced (usage figures) is not reported by the poll either', async (t) => {
    const { writer, reader } = deafPair(t, 100)
    const project = keyHandle(writer, 'usage')
    await project.initialize(generateAnonKey())
    const heard = counter()
    await reader.subscribe(heard.listener)
    const known = (await project.load()).version
    await project.recordUsage([{ digest: 'f'.repeat(64), requests: 1, lastSeenAt: Date.now() }])
    await keyHandle(writer, 'marker').initialize(generateAnonKey())
    await eventually('the reader to hear the change after it', () => heard.projects.includes('marker'), BOUND_MS)
    t.same(heard.projects, ['marker'], `the usage write (version ${known} to ${known + 1}) was not reported`)
  })

  t.test('polls once every catchUpMs, whatever the number of projects, and stops with the last listener', async (t) => {
    const namespace = uniqueNamespace('cost')
    const counted = countingPolls(createPool(t))
    const store = postgresStore({ pool: counted.pool, namespace, tableName, catchUpMs: 100 })
    t.teardown(() => store.close())
    const writer = postgresStore({ pool: direct, namespace, tableName })
    for (let index = 0; index < 50; index++) await keyHandle(writer, `tenant-${index}`).initialize(generateAnonKey())
    const unsubscribe = await store.subscribe(() => {})
    const first = counted.polls()
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const during = counted.polls() - first
    t.ok(during >= 3 && during <= 11, `about one poll every 100 ms over 1 s with 50 projects (${during})`)
    await unsubscribe()
    await checkNoMorePolls(t, counted.polls)
  })

  t.test('a table made before the change log gets its column on first use, and the poll works on it', async (t) => {
    const oldTable = uniqueNamespace('anon_before_log')
    dropTableAtEnd(t, direct, oldTable)
    await direct.query(`CREATE TABLE "${oldTable}" (namespace text NOT NULL, project text NOT NULL, version bigint NOT NULL, state jsonb NOT NULL, PRIMARY KEY (namespace, project))`)
    const namespace = uniqueNamespace('old')
    const writer = postgresStore({ pool: direct, namespace, tableName: oldTable, channel: uniqueNamespace('writes') })
    const reader = postgresStore({ pool: direct, namespace, tableName: oldTable })
    t.teardown(async () => { await writer.close(); await reader.close() })
    const heard = counter()
    await reader.subscribe(heard.listener)
    const columns = await direct.query('SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 ORDER BY attnum', [`"${oldTable}"`])
    t.same(columns.rows.map((row) => row.attname), ['namespace', 'project', 'version', 'state', 'changed'], 'the column was added')
    await keyHandle(writer, 'tenant').initialize(generateAnonKey())
    await eventually('the reader to hear the change through the poll', () => heard.projects.includes('tenant'), BOUND_MS)
  })

  t.test('close while the first poll waits (a lock on the table) starts nothing once it returns', async (t) => {
    const channel = uniqueNamespace('anon_locked')
    const pool = createPool(t)
    const store = postgresStore({ pool, namespace: uniqueNamespace('locked'), tableName, channel, catchUpMs: 50 })
    await store.load('')
    const locker = await direct.connect()
    t.teardown(() => locker.release())
    await locker.query('BEGIN')
    await locker.query(`LOCK TABLE "${tableName}" IN ACCESS EXCLUSIVE MODE`)
    const subscribing = store.subscribe(() => {})
    const waiting = async (): Promise<boolean> => (await direct.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%txid_snapshot_xmin%'")).rows[0].n > 0
    await eventually('the first poll to wait for the lock', waiting, 5000)
    await store.close()
    await locker.query('COMMIT')
    await subscribing
    const listening = await direct.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = $1', [`LISTEN "${channel}"`])
    t.equal(listening.rows[0].n, 0, 'nothing listens')
    await new Promise((resolve) => setTimeout(resolve, 300))
    t.equal(pool.totalCount, pool.idleCount, 'no poll runs after close')
  })

  t.test('a poll that fails while the database is cut is logged once, then once when it works again', async (t) => {
    const unhandled = watchUnhandled(t)
    const proxy = await startTcpProxy(PG_HOST, PG_PORT)
    t.teardown(() => proxy.close())
    const log = keptLog()
    const store = postgresStore({ pool: createPool(t, { port: proxy.port, connectionTimeoutMillis: 200 }), namespace: uniqueNamespace('cut'), tableName, catchUpMs: 100 })
    t.teardown(() => store.close())
    await store.subscribe(() => {}, { log })
    await checkOutageLoggedOnce(t, log, proxy, 'postgresStore')
    t.same(unhandled, [], 'no unhandled rejection')
  })
})

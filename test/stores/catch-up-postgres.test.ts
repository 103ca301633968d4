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
        if (text.includes('txid_current_snapshot')) polls += 1
        return pool.query(text, values)
      },
      connect: () => pool.connect()
    },
    polls: () => polls
  }
}

/** The real pool, keeping how many projects each catch-up poll returned; its polls fail while `failing` is set. */
function watchedPolls (pool: Pool): { pool: PgPool, returned: number[], failed: () => number, failing: (on: boolean) => void } {
  const returned: number[] = []
  let failed = 0
  let failing = false
  return {
    pool: {
      query: async (text: string, values?: any[]) => {
        const poll = text.includes('txid_current_snapshot')
        if (poll && failing) {
          failed += 1
          throw new Error('the poll failed (on purpose)')
        }
        const result = await pool.query(text, values)
        if (poll) returned.push(result.rows[0].changed.length)
        return result
      },
      connect: () => pool.connect()
    },
    returned,
    failed: () => failed,
    failing: (on) => { failing = on }
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

  t.test('a transaction left open elsewhere does not make a poll return what committed before the previous poll', async (t) => {
    const namespace = uniqueNamespace('longtx')
    const watched = watchedPolls(createPool(t))
    const reader = postgresStore({ pool: watched.pool, namespace, tableName, channel: uniqueNamespace('reads'), catchUpMs: 50 })
    const writer = postgresStore({ pool: direct, namespace, tableName, channel: uniqueNamespace('writes') })
    t.teardown(async () => { await reader.close(); await writer.close() })
    const idle = await direct.connect()
    t.teardown(async () => { await idle.query('ROLLBACK'); idle.release() })
    await idle.query('BEGIN')
    await idle.query('SELECT txid_current()')
    const heard = counter()
    await reader.subscribe(heard.listener)
    const projects = Array.from({ length: 30 }, (_, index) => `tenant-${index}`)
    for (const project of projects) await keyHandle(writer, project).initialize(generateAnonKey())
    await eventually('the reader to hear every change', () => heard.projects.length === projects.length, BOUND_MS)
    t.same([...heard.projects].sort(), [...projects].sort(), 'each change once, by its project')
    const after = watched.returned.length
    await eventually('five more polls', () => watched.returned.length >= after + 5, BOUND_MS)
    t.same(watched.returned.slice(after + 1), watched.returned.slice(after + 1).map(() => 0), 'later polls return nothing while the transaction stays open')
    t.equal(watched.returned.reduce((sum, count) => sum + count, 0), projects.length, 'every change was returned by one poll only')
    t.equal(heard.projects.length, projects.length, 'and reported once')
  })

  t.test('a poll returns at most 1,000 projects: more committed since the last one are reported as null, reload everything', async (t) => {
    const namespace = uniqueNamespace('burst')
    const watched = watchedPolls(createPool(t))
    const reader = postgresStore({ pool: watched.pool, namespace, tableName, channel: uniqueNamespace('reads'), catchUpMs: 50 })
    t.teardown(() => reader.close())
    const heard = counter()
    await reader.subscribe(heard.listener)
    const insert = (from: number, to: number) => direct.query(`INSERT INTO "${tableName}" (namespace, project, version, state, changed)
      SELECT $1, 'tenant-' || n, 1, '{"keys":[]}'::jsonb, txid_current() FROM generate_series($2::int, $3::int) AS n`, [namespace, from, to])
    await insert(1, 1000)
    await eventually('the reader to hear 1,000 projects committed at once', () => heard.projects.length === 1000, BOUND_MS)
    t.notOk(heard.projects.includes(null), 'each by its project')
    await insert(1001, 2001)
    await eventually('the reader to hear that changes may have been missed', () => heard.projects.includes(null), BOUND_MS)
    t.equal(heard.projects.length, 1001, '1,001 committed at once: one null, no project')
    t.ok(Math.max(...watched.returned) <= 1001, `no poll returned more than 1,001 rows (${Math.max(...watched.returned)})`)
    const after = heard.projects.length
    await keyHandle(postgresStore({ pool: direct, namespace, tableName, channel: uniqueNamespace('writes') }), 'next').initialize(generateAnonKey())
    await eventually('the next change to be heard by its project', () => heard.projects.length > after, BOUND_MS)
    t.same(heard.projects.slice(after), ['next'], 'the poll goes on from there')
  })

  t.test('a change heard by notification is not reported again by the poll, even when a poll failed in between', async (t) => {
    const namespace = uniqueNamespace('heard')
    const channel = uniqueNamespace('heard')
    const watched = watchedPolls(createPool(t))
    const reader = postgresStore({ pool: watched.pool, listenPool: direct, namespace, tableName, channel, catchUpMs: 50 })
    const writer = postgresStore({ pool: direct, namespace, tableName, channel })
    t.teardown(async () => { await reader.close(); await writer.close() })
    const heard = counter()
    await reader.subscribe(heard.listener)
    watched.failing(true)
    await keyHandle(writer, 'tenant').initialize(generateAnonKey())
    await eventually('the notification to be heard', () => heard.projects.includes('tenant'), BOUND_MS)
    const failedBefore = watched.failed()
    await eventually('a poll to fail after it', () => watched.failed() > failedBefore, BOUND_MS)
    watched.failing(false)
    const polled = watched.returned.length
    await eventually('two polls to work again', () => watched.returned.length >= polled + 2, BOUND_MS)
    t.equal(watched.returned[polled], 1, 'the poll after the failure found the change')
    t.same(heard.projects, ['tenant'], 'and did not report it a second time')
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
    const waiting = async (): Promise<boolean> => (await direct.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%txid_current_snapshot%'")).rows[0].n > 0
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

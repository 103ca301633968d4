import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import t, { type Test } from 'tap'
import { sqliteStore } from '../../lib/index.js'
import { adminHeaders, currentKey, rotate, startApp, useKey } from '../helpers/app.js'
import { eventually } from '../helpers/eventually.js'
import { keptLog } from '../helpers/kept-log.js'
import { openDatabase, sqliteFile } from '../helpers/sqlite.js'

// Each case starts another Node process on the file; alone the file takes about 20 s, on 2 shared cores more.
t.setTimeout(120_000)

const LOCK_HOLDER = join(__dirname, '..', 'fixtures', 'sqlite-lock-holder.ts')
/** How long the other process holds the file's lock. */
const HOLD_MS = 1500
/** The longest a key check may take while the file is locked: a busy two-core machine's pause, not the lock. */
const STALL_BOUND_MS = 250

/** Another process on `file` that holds its lock for HOLD_MS on each `lock()`. */
async function lockHolder (t: Test, file: string): Promise<{ lock: () => Promise<void>, released: () => boolean }> {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [...process.execArgv, LOCK_HOLDER, file, String(HOLD_MS)])
  t.teardown(() => { child.kill() })
  let printed = ''
  child.stdout.on('data', (chunk) => { printed += chunk })
  await eventually('the other process to open the file', () => printed.includes('ready\n'), 60_000)
  return {
    async lock () {
      printed = ''
      child.stdin.write('lock\n')
      await eventually('the other process to lock the file', () => printed.includes('locked\n'), 10_000)
    },
    released: () => printed.includes('released\n')
  }
}

for (const journalMode of ['DELETE', 'WAL'] as const) {
  t.test(`while another process holds the file's lock (journal ${journalMode}), key checks never wait for it; admin calls answer once it is released`, async (t) => {
    const file = sqliteFile(t)
    // Polling every 50 ms, so that many polls meet the lock.
    const app = await startApp(t, { store: sqliteStore({ database: openDatabase(t, file, { journalMode }), catchUpMs: 50 }) })
    const key = await currentKey(app)
    const holder = await lockHolder(t, file)
    await holder.lock()
    const lockedAt = performance.now()
    const admin = app.inject({ url: '/api/metadata/anon-key', headers: adminHeaders() }).then((response) => ({ response, ms: performance.now() - lockedAt }))
    let slowest = 0
    let checks = 0
    while (!holder.released()) {
      const started = performance.now()
      const { statusCode } = await useKey(app, key)
      slowest = Math.max(slowest, performance.now() - started)
      checks += 1
      if (statusCode !== 200) t.fail(`a key check answered ${statusCode} while the file was locked`)
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
    const { response, ms } = await admin
    t.comment(`journal ${journalMode}: ${checks} key checks while another process held the lock for ${HOLD_MS} ms, the slowest took ${slowest.toFixed(1)} ms; ` +
      `an admin GET sent meanwhile answered ${response.statusCode} after ${ms.toFixed(0)} ms`)
    t.ok(slowest < STALL_BOUND_MS, `no key check waited for the lock (slowest ${slowest.toFixed(1)} ms)`)
    t.equal(response.statusCode, 200, 'the admin GET answered once the lock was released')
    if (journalMode === 'DELETE') t.ok(ms >= HOLD_MS - 100, `the admin GET waited for the lock (${ms.toFixed(0)} ms)`)
    t.equal((await rotate(app, { gracePeriodHours: 0 })).statusCode, 200, 'a rotation works after it')
  })
}

t.test('a rotation that meets another process\'s lock waits for it without blocking key checks, and lands', async (t) => {
  const file = sqliteFile(t)
  const app = await startApp(t, { store: sqliteStore({ database: openDatabase(t, file, { journalMode: 'DELETE' }) }) })
  const key = await currentKey(app)
  const holder = await lockHolder(t, file)
  await holder.lock()
  const rotation = rotate(app, { gracePeriodHours: 1 })
  let slowest = 0
  const answers = new Set<number>()
  while (!holder.released()) {
    const started = performance.now()
    answers.add((await useKey(app, key)).statusCode)
    slowest = Math.max(slowest, performance.now() - started)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  t.same([...answers], [200], 'every key check meanwhile passed')
  t.equal((await rotation).statusCode, 200, 'the rotation landed once the lock was released')
  t.ok(slowest < STALL_BOUND_MS, `no key check waited meanwhile (slowest ${slowest.toFixed(1)} ms)`)
  t.not(await currentKey(app), key, 'the key changed')
})

t.test('at start-up, a store on a file not in WAL mode logs a notice that says how to switch; a WAL file or a database in memory logs none', async (t) => {
  const rollback = keptLog()
  const file = sqliteFile(t)
  await sqliteStore({ database: openDatabase(t, file, { journalMode: 'DELETE' }) }).subscribe(() => {}, { log: rollback }).then((stop) => stop())
  t.equal(rollback.lines.length, 1, 'one line')
  t.match(rollback.lines[0], { level: 'info', message: /keys\.db is in journal mode "delete", not WAL.*journal_mode = WAL/ })

  const wal = keptLog()
  await sqliteStore({ database: openDatabase(t, sqliteFile(t)) }).subscribe(() => {}, { log: wal }).then((stop) => stop())
  t.same(wal.lines, [], 'nothing for a WAL file')

  const memory = keptLog()
  const inMemory = new Database(':memory:')
  t.teardown(() => inMemory.close())
  await sqliteStore({ database: inMemory }).subscribe(() => {}, { log: memory }).then((stop) => stop())
  t.same(memory.lines, [], 'nothing for a database in memory')
})

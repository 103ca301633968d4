import Database from 'better-sqlite3'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { isBuiltin } from 'node:module'
import { join } from 'node:path'
import t from 'tap'
import { digestOf, generateAnonKey } from '../../lib/domain/key.js'
import { sqliteStore } from '../../lib/stores/sqlite/sqlite-store.js'
import { keyHandle, runStoreConformance } from '../../lib/conformance/index.js'
import { assertError, currentKey, rotate, startApp, useKey } from '../helpers/app.js'
import { eventually } from '../helpers/eventually.js'
import { openDatabase, sqliteFile } from '../helpers/sqlite.js'

// The record-limit case of the conformance suite makes 1,002 rotations, each rewriting up to 1,000 records.
t.setTimeout(180_000)

const HOUR_MS = 60 * 60 * 1000
const ROTATOR = join(__dirname, '..', 'fixtures', 'sqlite-rotator.ts')

t.test('sqliteStore passes the conformance suite, each instance on a connection of its own to one file', async (t) => {
  const file = sqliteFile(t)
  const admin = openDatabase(t, file)
  await runStoreConformance(t, {
    createStore: (namespace) => sqliteStore({ database: openDatabase(t, file), namespace }),
    readRaw: async (namespace) => JSON.stringify(admin.prepare('SELECT * FROM anon_key_projects WHERE namespace = ?').all(namespace))
  })
})

// @types/node 20 does not know node:sqlite, and Node 20 does not have it: this part runs on Node 22.13 and later.
const NODE_SQLITE: string = 'node:sqlite'
t.test('sqliteStore passes the conformance suite on node:sqlite DatabaseSync connections', {
  skip: isBuiltin(NODE_SQLITE) ? false : `node:sqlite is not in Node ${process.version}`
}, async (t) => {
  const { DatabaseSync } = await import(NODE_SQLITE)
  const file = sqliteFile(t)
  const open = () => {
    const database = new DatabaseSync(file)
    database.exec('PRAGMA journal_mode = WAL')
    t.teardown(() => database.close())
    return database
  }
  const admin = open()
  await runStoreConformance(t, {
    createStore: (namespace) => sqliteStore({ database: open(), namespace }),
    readRaw: async (namespace) => JSON.stringify(admin.prepare('SELECT * FROM anon_key_projects WHERE namespace = ?').all(namespace))
  })
})

t.test('one row a project, the document with previous keys as digests, and one row a change in the log', async (t) => {
  const database = openDatabase(t, sqliteFile(t))
  const store = sqliteStore({ database, namespace: 'app-1', tableName: 'keys_of_app' })
  const [first, second] = [generateAnonKey(), generateAnonKey()]
  const handle = keyHandle(store)
  await handle.initialize(first, 1000)
  const rotated = await handle.rotate({ newKey: second, now: 2000, expiresAt: 3000 })
  await keyHandle(store, 'tenant-a').initialize(generateAnonKey(), 1000)
  await handle.recordUsage([{ digest: rotated?.retired.digest as string, requests: 1, lastSeenAt: 2500 }])
  const rows = database.prepare('SELECT namespace, project, version, state FROM keys_of_app ORDER BY project').all() as Array<Record<string, unknown>>
  t.same(rows.map(({ state, ...rest }) => rest), [
    { namespace: 'app-1', project: '', version: 3 },
    { namespace: 'app-1', project: 'tenant-a', version: 1 }
  ])
  t.notMatch(String(rows[0].state), first, 'the previous key is not stored whole')
  t.match(String(rows[0].state), digestOf(first), 'the previous key is stored as its digest')
  t.same(database.prepare('SELECT * FROM keys_of_app_changes ORDER BY seq').all(), [
    { namespace: 'app-1', seq: 1, project: '' },
    { namespace: 'app-1', seq: 2, project: '' },
    { namespace: 'app-1', seq: 3, project: 'tenant-a' }
  ], 'every announced change is logged, the usage write is not')
})

t.test('the log keeps the last 1,000 changes; a listener that fell further behind is told changes were missed', async (t) => {
  const file = sqliteFile(t)
  const database = openDatabase(t, file)
  const behind = sqliteStore({ database: openDatabase(t, file), catchUpMs: 50 })
  t.teardown(() => behind.close())
  const heard: Array<string | null> = []
  await behind.subscribe((project) => heard.push(project))
  const writer = sqliteStore({ database })
  // The store is synchronous and these awaits settle as microtasks: no poll runs before the loop ends.
  for (let i = 0; i < 1001; i++) await keyHandle(writer, `tenant-${i}`).initialize(generateAnonKey())
  t.same(database.prepare('SELECT count(*) AS n, min(seq) AS first FROM anon_key_projects_changes').get(), { n: 1000, first: 2 }, 'the first change was forgotten')
  await eventually('the listener to hear that changes were missed', () => heard.length > 0, 2000)
  t.same(heard, [null], 'one call with null, instead of a list with a hole')
})

for (const journalMode of ['WAL', 'DELETE'] as const) {
  t.test(`two processes on one file (journal ${journalMode}), 20 rotations each at once while the file is locked: nothing is lost`, async (t) => {
    const file = sqliteFile(t)
    const namespace = 'processes'
    const handle = keyHandle(sqliteStore({ database: openDatabase(t, file, { journalMode }), namespace }))
    const initialKey = generateAnonKey()
    await handle.initialize(initialKey)
    const child = spawn(process.execPath, [...process.execArgv, ROTATOR, file, namespace, '20'], { stdio: ['pipe', 'pipe', 'inherit'] })
    let printed = ''
    child.stdout.on('data', (chunk) => { printed += chunk })
    await eventually('the other process to open the file', () => printed === 'ready\n', 60_000)

    // A third connection holds the write lock: the other process's rotations wait for it instead of failing.
    const blocker = openDatabase(t, file, { journalMode })
    blocker.exec('BEGIN IMMEDIATE')
    child.stdin.write('go\n')
    await new Promise((resolve) => setTimeout(resolve, 300))
    blocker.exec('ROLLBACK')
    const newKeys = Array.from({ length: 20 }, () => generateAnonKey())
    const now = Date.now()
    const outcomes = await Promise.all(newKeys.map((newKey, i) => handle.rotate({ newKey, now: now + i, expiresAt: now + HOUR_MS })))
    const [code] = await once(child, 'close')
    t.equal(code, 0, 'the other process rotated without an error')
    const childKeys = JSON.parse(printed.split('\n')[1]) as string[]

    t.ok(outcomes.every((outcome) => outcome !== null), 'every rotation here happened')
    const all = [initialKey, ...newKeys, ...childKeys]
    const snapshot = await handle.load()
    t.ok([...newKeys, ...childKeys].includes(snapshot.currentKey as string), 'the current key is one of the 40 rotated in')
    const retired = all.filter((key) => key !== snapshot.currentKey).map(digestOf).sort()
    t.same(snapshot.previousKeys.map((record) => record.digest).sort(), retired, 'every key but the current one is a previous key, once')
  })
}

t.test('the keys survive a restart: a new connection and a new app on the file serve the same key', async (t) => {
  const file = sqliteFile(t)
  const before = new Database(file)
  const first = await startApp(t, { store: sqliteStore({ database: before }) })
  const key = await currentKey(first)
  await first.close()
  before.close()

  const app = await startApp(t, { store: sqliteStore({ database: openDatabase(t, file) }) })
  t.equal(await currentKey(app), key, 'the key made before the restart is the current key after it')
  t.equal((await useKey(app, key)).statusCode, 200, 'and it verifies')
})

t.test('a rotation through another connection reaches an app within 2 s; its own listeners hear at once', async (t) => {
  const file = sqliteFile(t)
  const app = await startApp(t, { store: sqliteStore({ database: openDatabase(t, file) }) })
  const oldKey = await currentKey(app)
  const other = keyHandle(sqliteStore({ database: openDatabase(t, file) }))
  const now = Date.now()
  const started = performance.now()
  const rotated = await other.rotate({ newKey: generateAnonKey(), now, expiresAt: now })
  const took = await eventually('the app to refuse the key cut off on the other connection', async () => (await useKey(app, oldKey)).statusCode === 401, 2000, { started })
  t.comment(`the rotation reached the app on the other connection in ${Math.round(took)} ms (catchUpMs 1000)`)
  t.equal(await currentKey(app), rotated?.snapshot.currentKey, 'the app serves the key made on the other connection')

  const local = sqliteStore({ database: openDatabase(t, file), catchUpMs: 60_000 })
  const heard: Array<string | null> = []
  await local.subscribe((project) => heard.push(project))
  await keyHandle(local, 'tenant-b').initialize(generateAnonKey())
  await Promise.resolve()
  t.same(heard, ['tenant-b'], 'a listener of the store that made the change hears it before the next poll')
  await local.close()
})

t.test('polling a file nobody changed since the subscription calls no listener', async (t) => {
  const store = sqliteStore({ database: openDatabase(t, sqliteFile(t)), catchUpMs: 50 })
  await keyHandle(store).initialize(generateAnonKey())
  const heard: Array<string | null> = []
  const unsubscribe = await store.subscribe((project) => heard.push(project))
  t.teardown(unsubscribe)
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.same(heard, [], 'ten polls or so, no change, no call')
})

t.test('a closed database answers 503 STORE_UNAVAILABLE, and polling it keeps the process alive', async (t) => {
  const database = new Database(sqliteFile(t))
  const app = await startApp(t, { store: sqliteStore({ database, catchUpMs: 50 }) })
  database.close()
  await new Promise((resolve) => setTimeout(resolve, 50))
  assertError(t, await rotate(app), 503, 'STORE_UNAVAILABLE')
  const unopened = sqliteStore({ database })
  await t.rejects(unopened.subscribe(() => {}), /not open/, 'subscribe on a closed database rejects')
  await t.rejects(unopened.load(''), /not open/, 'load on a closed database rejects')
})

t.test('a connection closed in the middle of a change rejects it and leaves the file as it was', async (t) => {
  const file = sqliteFile(t)
  const handle = keyHandle(sqliteStore({ database: openDatabase(t, file) }))
  const key = generateAnonKey()
  await handle.initialize(key)
  const doomed = new Database(file)
  const store = sqliteStore({ database: doomed })
  await t.rejects(store.update('', () => {
    doomed.close()
    throw new Error('the process died here')
  }), /the process died here/)
  t.equal((await handle.load()).currentKey, key, 'the key is unchanged')
})

t.test('a connection that would fail at once on a lock is made to wait; a wait the host chose is kept', async (t) => {
  const file = sqliteFile(t)
  const impatient = openDatabase(t, file, { timeout: 0 })
  const patient = openDatabase(t, file, { timeout: 1234 })
  for (const database of [impatient, patient]) await sqliteStore({ database }).load('')
  t.equal(impatient.pragma('busy_timeout', { simple: true }), 5000)
  t.equal(patient.pragma('busy_timeout', { simple: true }), 1234)
})

t.test('a change log that went back (the file restored from a copy) makes every listener reload everything', async (t) => {
  const file = sqliteFile(t)
  const database = openDatabase(t, file)
  const listening = sqliteStore({ database, catchUpMs: 50 })
  const heard: Array<string | null> = []
  const unsubscribe = await listening.subscribe((project) => { heard.push(project) })
  t.teardown(unsubscribe)
  const writer = sqliteStore({ database: openDatabase(t, file) })
  await keyHandle(writer).initialize(generateAnonKey())
  await eventually('the change heard', () => heard.length === 1, 5000)
  database.exec('DELETE FROM "anon_key_projects_changes"')
  await eventually('a reload of everything', () => heard.includes(null), 5000)
})

t.test('usage figures that cannot be written are rolled back and the error is the caller\'s', async (t) => {
  const store = sqliteStore({ database: openDatabase(t, sqliteFile(t)) }) as Required<ReturnType<typeof sqliteStore>>
  const unbindable = { verified: [{ hour: {}, name: 'default', fingerprint: 'f'.repeat(12), requests: 1 }], refused: [], keys: [], keepHoursFrom: 0, keepKeysFrom: 0 }
  await t.rejects(store.recordUsage('', unbindable as never))
  await keyHandle(store).initialize(generateAnonKey())
  t.equal((await store.load('')).version, 1, 'the file takes writes after the failed batch')
})

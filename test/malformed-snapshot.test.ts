import Fastify from 'fastify'
import t from 'tap'
import { adminHeaders, assertError, bearer, JWT_SECRET } from './helpers/app.js'
import anonKey, { memoryStore, type AnonKeyStore, type ProjectSnapshot } from '../lib/index.js'
import { keySnapshot, type KeySnapshot } from '../lib/store.js'
import { snapshotProblem } from '../lib/snapshot-check.js'
import { keyHandle } from '../lib/testing.js'

/** The project snapshot whose `default` key reads as `view` (fields missing from `view` missing from the key too). */
function asProject (view: unknown, original: ProjectSnapshot): unknown {
  if (view === null || typeof view !== 'object') return view
  const { version, ...key } = view as Record<string, unknown>
  const rest = original.state.keys.filter((named) => named.name !== 'default')
  return { version, state: { keys: [{ name: 'default', description: '', allowedOrigins: null, createdAt: 0, ...key }, ...rest], deletedKeys: original.state.deletedKeys } }
}

/** A memory store whose answers pass through `corrupt` once `broken` is set: a buggy adapter. */
function buggyStore (corrupt: (snapshot: KeySnapshot) => unknown): AnonKeyStore & { broken: boolean } {
  const inner = memoryStore()
  const store = {
    ...inner,
    broken: false,
    load: async (project: string) => {
      const snapshot = await inner.load(project)
      return (store.broken ? asProject(corrupt(keySnapshot(snapshot.version, snapshot.state)), snapshot) : snapshot) as ProjectSnapshot
    }
  }
  return store
}

const DIGEST = 'a'.repeat(64)
const record = { digest: DIGEST, rotatedAt: 1, expiresAt: Date.now() + 3_600_000, revokedAt: null }

const corruptions: Array<[string, (snapshot: KeySnapshot) => unknown]> = [
  ['null', () => null],
  ['a string', () => 'ok'],
  ['no version', ({ version, ...rest }) => rest],
  ['a version given as a string', (snapshot) => ({ ...snapshot, version: String(snapshot.version + 1) })],
  ['a version of NaN', (snapshot) => ({ ...snapshot, version: NaN })],
  ['no currentKey', ({ currentKey, ...rest }) => ({ ...rest, version: rest.version + 1 })],
  ['a currentKey that is not an anon key', (snapshot) => ({ ...snapshot, version: snapshot.version + 1, currentKey: 'anon_short' })],
  ['a currentKey that is a number', (snapshot) => ({ ...snapshot, version: snapshot.version + 1, currentKey: 42 })],
  ['previousKeys missing', ({ previousKeys, ...rest }) => ({ ...rest, version: rest.version + 1 })],
  ['previousKeys as an object', (snapshot) => ({ ...snapshot, version: snapshot.version + 1, previousKeys: {} })],
  ['a previous record that is null', (snapshot) => ({ ...snapshot, version: snapshot.version + 1, previousKeys: [null] })],
  ['a previous record that is a string', (snapshot) => ({ ...snapshot, version: snapshot.version + 1, previousKeys: ['a'.repeat(64)] })],
  ['a previous record without a digest', (snapshot) => ({ ...snapshot, version: snapshot.version + 1, previousKeys: [{ ...record, digest: undefined }] })],
  ['a digest one character short', (snapshot) => ({ ...snapshot, version: snapshot.version + 1, previousKeys: [{ ...record, digest: 'a'.repeat(63) }] })],
  ['an expiresAt given as an ISO string', (snapshot) => ({ ...snapshot, version: snapshot.version + 1, previousKeys: [{ ...record, expiresAt: new Date().toISOString() }] })],
  ['a rotatedAt of null', (snapshot) => ({ ...snapshot, version: snapshot.version + 1, previousKeys: [{ ...record, rotatedAt: null }] })],
  ['a revokedAt given as a string', (snapshot) => ({ ...snapshot, version: snapshot.version + 1, previousKeys: [{ ...record, revokedAt: 'yes' }] })]
]

for (const [name, corrupt] of corruptions) {
  t.test(`a snapshot with ${name} is logged and ignored: verification goes on with the last good keys`, async (t) => {
    const lines: any[] = []
    const store = buggyStore(corrupt)
    const app = Fastify({ logger: { stream: { write: (line: string) => { lines.push(JSON.parse(line)) } } } })
    t.teardown(() => app.close())
    app.register(anonKey, { jwt: { secret: JWT_SECRET }, store })
    app.register(async (guarded) => {
      guarded.addHook('onRequest', guarded.verifyAnonKey)
      guarded.get('/data', async () => ({ ok: true }))
    })
    await app.ready()
    const key = await app.anonKey.get() as string
    store.broken = true

    await app.anonKey.refresh()
    t.ok(lines.some((line) => line.level === 50 && line.msg === 'anon key store unreachable; verifying with the last known keys' && /malformed/.test(line.err.message)), 'the bad snapshot is logged')
    t.equal((await app.inject({ url: '/data', headers: bearer(key) })).statusCode, 200, 'the last good key still verifies')
    t.same(await app.anonKey.verify(key), { valid: true, role: 'anon', fingerprint: (await app.anonKey.verify(key) as any).fingerprint, expiresAt: null })
    assertError(t, await app.inject({ url: '/data', headers: bearer('anon_' + 'f'.repeat(64)) }), 401, 'AUTH_INVALID_CREDENTIALS')

    const read = await app.inject({ url: '/api/metadata/anon-key', headers: adminHeaders() })
    assertError(t, read, 500, 'INTERNAL_ERROR')
    t.notMatch(read.body, /anon_[0-9a-f]{64}|digest|previousKeys/, 'the adapter\'s fault stays on the server')

    store.broken = false
    await app.anonKey.refresh()
    t.equal((await app.inject({ url: '/api/metadata/anon-key', headers: adminHeaders() })).json().anonKey, key, 'a good snapshot is taken again')
  })
}

t.test('a bad snapshot after a rotation does not half-apply: the rotated-in key is not adopted until a good one comes', async (t) => {
  let corruptNext = false
  const inner = memoryStore()
  const store: AnonKeyStore = {
    ...inner,
    load: async (project) => {
      const snapshot = await inner.load(project)
      const view = keySnapshot(snapshot.version, snapshot.state)
      return (corruptNext ? asProject({ ...view, previousKeys: [{ ...record, expiresAt: 'soon' }] }, snapshot) : snapshot) as ProjectSnapshot
    }
  }
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(anonKey, { jwt: { secret: JWT_SECRET }, store })
  await app.ready()
  const before = await app.anonKey.get() as string
  corruptNext = true
  // Another instance rotates: this one hears of it, and its reload reads a malformed answer.
  const other = await keyHandle(inner).rotate({ newKey: 'anon_' + 'b'.repeat(64), now: Date.now(), expiresAt: Date.now() + 3_600_000 })
  t.ok(other !== null)
  await app.anonKey.refresh()
  t.match(await app.anonKey.verify(before), { valid: true, expiresAt: null }, 'the old current key is still judged by the last good snapshot')
  t.match(await app.anonKey.verify('anon_' + 'b'.repeat(64)), { valid: false }, 'nothing of the bad snapshot was taken')
  corruptNext = false
  await app.anonKey.refresh()
  t.match(await app.anonKey.verify('anon_' + 'b'.repeat(64)), { valid: true, expiresAt: null })
})

for (const [name, snapshot] of [
  ['no state', { version: 9 }],
  ['state.keys that is not an array', { version: 9, state: { keys: {}, deletedKeys: [] } }],
  ['no state.deletedKeys', { version: 9, state: { keys: [] } }],
  ['a key without a name', { version: 9, state: { keys: [{ currentKey: 'anon_' + 'a'.repeat(64) }], deletedKeys: [] } }]
] as const) {
  t.test(`a project snapshot with ${name} is refused as malformed, and the last good keys keep verifying`, async (t) => {
    const inner = memoryStore()
    let broken = false
    const store: AnonKeyStore = { ...inner, load: async (project) => (broken ? snapshot as unknown as ProjectSnapshot : inner.load(project)) }
    const app = Fastify()
    t.teardown(() => app.close())
    app.register(anonKey, { jwt: { secret: JWT_SECRET }, store })
    await app.ready()
    const key = await app.anonKey.get() as string
    broken = true
    await t.rejects(app.anonKey.get(), { name: 'TypeError', message: /^malformed anon key snapshot: / })
    t.match(await app.anonKey.verify(key), { valid: true })
  })
}

t.test('the key view check refuses what is not a snapshot on its own too (KeyCache.apply may be handed anything)', async (t) => {
  t.equal(snapshotProblem(null), 'it is not an object')
  t.equal(snapshotProblem('ok'), 'it is not an object')
  t.equal(snapshotProblem({ version: '3', currentKey: null, previousKeys: [] }), 'version is not a finite number')
  t.equal(snapshotProblem({ version: 3, currentKey: null, previousKeys: [] }), null)
})

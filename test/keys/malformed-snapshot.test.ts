import Fastify from 'fastify'
import t from 'tap'
import { adminHeaders, assertError, bearer, internalsOf, JWT_SECRET, rotate } from '../helpers/app.js'
import anonKey, { memoryStore, type AnonKeyStore, type ProjectSnapshot } from '../../lib/index.js'
import { keyHandle } from '../../lib/conformance/index.js'

/** The project document of a snapshot with its `default` key changed by `change`, one version on. */
function withDefault (snapshot: ProjectSnapshot, change: (key: any) => unknown): unknown {
  return { version: snapshot.version + 1, state: { ...snapshot.state, keys: snapshot.state.keys.map((key) => key.name === 'default' ? change(key) : key) } }
}

/** A memory store whose answers pass through `corrupt` once `broken` is set: a buggy adapter. */
function buggyStore (corrupt: (snapshot: ProjectSnapshot) => unknown): AnonKeyStore & { broken: boolean } {
  const inner = memoryStore()
  const store = {
    ...inner,
    broken: false,
    load: async (project: string) => {
      const snapshot = await inner.load(project)
      return (store.broken ? corrupt(snapshot) : snapshot) as ProjectSnapshot
    }
  }
  return store
}

const DIGEST = 'a'.repeat(64)
const record = { digest: DIGEST, rotatedAt: 1, expiresAt: Date.now() + 3_600_000, revokedAt: null }

const corruptions: Array<[string, (snapshot: ProjectSnapshot) => unknown]> = [
  ['null', () => null],
  ['a string', () => 'ok'],
  ['no version', ({ version, ...rest }) => rest],
  ['a version given as a string', (snapshot) => ({ ...snapshot, version: String(snapshot.version + 1) })],
  ['a version of NaN', (snapshot) => ({ ...snapshot, version: NaN })],
  ['no state', (snapshot) => ({ version: snapshot.version + 1 })],
  ['keys as an object', (snapshot) => ({ version: snapshot.version + 1, state: { ...snapshot.state, keys: {} } })],
  ['a key that is null', (snapshot) => ({ version: snapshot.version + 1, state: { ...snapshot.state, keys: [null] } })],
  ['no currentKey', (snapshot) => withDefault(snapshot, ({ currentKey, ...rest }) => rest)],
  ['a currentKey that is not an anon key', (snapshot) => withDefault(snapshot, (key) => ({ ...key, currentKey: 'anon_short' }))],
  ['a currentKey that is a number', (snapshot) => withDefault(snapshot, (key) => ({ ...key, currentKey: 42 }))],
  ['previousKeys missing', (snapshot) => withDefault(snapshot, ({ previousKeys, ...rest }) => rest)],
  ['previousKeys as an object', (snapshot) => withDefault(snapshot, (key) => ({ ...key, previousKeys: {} }))],
  ['a previous record that is null', (snapshot) => withDefault(snapshot, (key) => ({ ...key, previousKeys: [null] }))],
  ['a previous record that is a string', (snapshot) => withDefault(snapshot, (key) => ({ ...key, previousKeys: ['a'.repeat(64)] }))],
  ['a previous record without a digest', (snapshot) => withDefault(snapshot, (key) => ({ ...key, previousKeys: [{ ...record, digest: undefined }] }))],
  ['a digest one character short', (snapshot) => withDefault(snapshot, (key) => ({ ...key, previousKeys: [{ ...record, digest: 'a'.repeat(63) }] }))],
  ['an expiresAt given as an ISO string', (snapshot) => withDefault(snapshot, (key) => ({ ...key, previousKeys: [{ ...record, expiresAt: new Date().toISOString() }] }))],
  ['a rotatedAt of null', (snapshot) => withDefault(snapshot, (key) => ({ ...key, previousKeys: [{ ...record, rotatedAt: null }] }))],
  ['a revokedAt given as a string', (snapshot) => withDefault(snapshot, (key) => ({ ...key, previousKeys: [{ ...record, revokedAt: 'yes' }] }))]
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

    await internalsOf(app).refresh()
    t.ok(lines.some((line) => line.level === 50 && line.msg === 'anon key store unreachable; verifying with the last known keys' && /malformed/.test(line.err.message)), 'the bad snapshot is logged')
    t.equal((await app.inject({ url: '/data', headers: bearer(key) })).statusCode, 200, 'the last good key still verifies')
    t.same(await app.anonKey.verify(key), { valid: true, role: 'anon', name: 'default', fingerprint: (await app.anonKey.verify(key) as any).fingerprint, expiresAt: null })
    assertError(t, await app.inject({ url: '/data', headers: bearer('anon_' + 'f'.repeat(64)) }), 401, 'AUTH_INVALID_CREDENTIALS')

    const read = await app.inject({ url: '/api/metadata/anon-key', headers: adminHeaders() })
    assertError(t, read, 503, 'STORE_UNAVAILABLE')
    t.notMatch(read.body, /anon_[0-9a-f]{64}|digest|previousKeys/, 'the adapter\'s fault stays on the server')

    store.broken = false
    await internalsOf(app).refresh()
    t.equal((await app.inject({ url: '/api/metadata/anon-key', headers: adminHeaders() })).json().anonKey, key, 'a good snapshot is taken again')
  })
}

t.test('a bad snapshot after a rotation does not half-apply: the rotated-in key is not adopted until a good one comes', async (t) => {
  let corruptNext = false
  const inner = memoryStore()
  const store: AnonKeyStore = {
    ...inner,
    load: async (project: string) => {
      const snapshot = await inner.load(project)
      return (corruptNext ? withDefault(snapshot, (key) => ({ ...key, previousKeys: [{ ...record, expiresAt: 'soon' }] })) : snapshot) as ProjectSnapshot
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
  await internalsOf(app).refresh()
  t.match(await app.anonKey.verify(before), { valid: true, expiresAt: null }, 'the old current key is still judged by the last good snapshot')
  t.match(await app.anonKey.verify('anon_' + 'b'.repeat(64)), { valid: false }, 'nothing of the bad snapshot was taken')
  corruptNext = false
  await internalsOf(app).refresh()
  t.match(await app.anonKey.verify('anon_' + 'b'.repeat(64)), { valid: true, expiresAt: null })
})

t.test('a malformed answer to a rotation is 503 STORE_UNAVAILABLE, not 500; the write may have happened, and GET tells', async (t) => {
  let corruptUpdates = false
  const inner = memoryStore()
  const store: AnonKeyStore = {
    ...inner,
    update: async (project, change) => {
      const answer = await inner.update(project, change)
      return corruptUpdates ? { ...answer, snapshot: withDefault(answer.snapshot, (key) => ({ ...key, currentKey: 42 })) as ProjectSnapshot } : answer
    }
  }
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  app.register(anonKey, { jwt: { secret: JWT_SECRET }, store })
  await app.ready()
  const before = await app.anonKey.get() as string
  corruptUpdates = true
  const response = await rotate(app, { gracePeriodHours: 1 })
  assertError(t, response, 503, 'STORE_UNAVAILABLE')
  t.notMatch(response.body, /anon_[0-9a-f]{64}|currentKey/, 'nothing of the adapter\'s answer reaches the client')
  const after = await app.anonKey.get() as string
  t.not(after, before, 'the store did rotate: GET shows the new key')
})

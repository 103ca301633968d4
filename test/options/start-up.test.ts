import Fastify from 'fastify'
import t, { type Test } from 'tap'
import { adminHeaders, assertError, buildApp, currentKey, JWT_SECRET, rotate, startApp, useKey } from '../helpers/app.js'
import anonKey, { memoryStore, type AnonKeyStore } from '../../lib/index.js'
import { generateAnonKey } from '../../lib/stores/index.js'
import { createKey } from '../../lib/domain/transitions.js'
import { keyHandle } from '../../lib/conformance/index.js'

t.test('initialKey is stored on start when the store holds no key', async (t) => {
  const initialKey = generateAnonKey()
  const app = await startApp(t, { initialKey })
  t.equal(await currentKey(app), initialKey)
  t.equal((await useKey(app, initialKey)).statusCode, 200)
})

t.test('initialKey does not replace a key the store already holds', async (t) => {
  const store = memoryStore()
  const existing = generateAnonKey()
  await keyHandle(store).initialize(existing)
  const app = await startApp(t, { store, initialKey: generateAnonKey() })
  t.equal(await currentKey(app), existing)
})

t.test('an initialKey that a named key of the project already uses makes ready() reject, naming the option', async (t) => {
  const store = memoryStore()
  const used = generateAnonKey()
  await store.update('', (state) => createKey(state, { name: 'web', key: used, now: Date.now(), maxKeys: 20 }))
  const app = buildApp({ store, initialKey: used })
  await t.rejects(async () => { await app.ready() }, /The initial key is already used in this project\. Pass another initialKey, or none\./)
  await app.close().catch(() => {})
  t.equal((await keyHandle(store).load()).currentKey, null, 'no default key was made with it')
})

t.test('a restarted app keeps the key of its store', async (t) => {
  const store = memoryStore()
  const first = buildApp({ store })
  await first.ready()
  const key = await currentKey(first)
  await first.close()
  const second = await startApp(t, { store })
  t.equal(await currentKey(second), key)
  t.equal((await useKey(second, key)).statusCode, 200)
})

t.test('with autoInitialize false no key is made and no key verifies', async (t) => {
  const store = memoryStore()
  const app = await startApp(t, { store, autoInitialize: false })
  t.equal((await keyHandle(store).load()).currentKey, null, 'the store still holds no key')
  assertError(t, await useKey(app, generateAnonKey()), 401, 'AUTH_INVALID_CREDENTIALS')
  t.same(await app.anonKey.verify(generateAnonKey()), { valid: false, code: 'AUTH_INVALID_CREDENTIALS' })
})

t.test('with autoInitialize false an app loads the key the store already holds', async (t) => {
  const store = memoryStore()
  const key = generateAnonKey()
  await keyHandle(store).initialize(key)
  const app = await startApp(t, { store, autoInitialize: false })
  t.equal((await useKey(app, key)).statusCode, 200)
})

t.test('ten apps sharing one memoryStore and starting at once end with one and the same key', async (t) => {
  const store = memoryStore()
  const apps = Array.from({ length: 10 }, () => buildApp({ store }))
  for (const app of apps) t.teardown(() => app.close())
  await Promise.all(apps.map((app) => app.ready()))
  const keys = await Promise.all(apps.map((app) => currentKey(app)))
  t.equal(new Set(keys).size, 1, `apps should agree on one key; got ${new Set(keys).size}`)
  t.same((await keyHandle(store).load()).previousKeys, [], 'no key was made and thrown away as a previous key')
})

t.test("apps sharing one memoryStore see each other's rotations at once", async (t) => {
  const store = memoryStore()
  const a = await startApp(t, { store })
  const b = await startApp(t, { store })
  const old = await currentKey(a)
  const { anonKey: rotated } = (await rotate(a, { gracePeriodHours: 0 })).json()
  t.equal((await useKey(b, rotated)).statusCode, 200, 'the other app accepts the new key right after the rotation answered')
  assertError(t, await useKey(b, old), 401, 'ANON_KEY_EXPIRED')
  await b.anonKey.rotate({ gracePeriodHours: 1 })
  const newest = await currentKey(b)
  t.equal((await useKey(a, newest)).statusCode, 200, 'and the other way round')
  const revoked = await b.inject({ method: 'DELETE', url: '/api/secrets/anon-key/previous', headers: adminHeaders() })
  t.same(revoked.json(), { success: true, revoked: 1 })
  assertError(t, await useKey(a, rotated), 401, 'ANON_KEY_REVOKED')
})

t.test('two memory stores never share keys', async (t) => {
  const a = await startApp(t, { store: memoryStore({ namespace: 'same' }) })
  const b = await startApp(t, { store: memoryStore({ namespace: 'same' }) })
  t.not(await currentKey(a), await currentKey(b))
  t.equal(memoryStore().namespace, 'default', 'the default namespace is "default"')
})

t.test('with autoInitialize false, a store whose first load fails makes ready() reject with STORE_UNAVAILABLE, naming the cause', async (t) => {
  const store: AnonKeyStore = { ...memoryStore(), load: async () => { throw new Error('connection refused') } }
  const app = Fastify()
  app.register(anonKey, { jwt: { secret: JWT_SECRET }, store, autoInitialize: false })
  await t.rejects(async () => { await app.ready() }, { code: 'STORE_UNAVAILABLE', message: /load: connection refused$/ })
  await app.close().catch(() => {})
})

t.test('a store that fails on start makes ready() reject with STORE_UNAVAILABLE, naming the cause', async (t) => {
  const store: AnonKeyStore = { ...memoryStore(), update: async () => { throw new Error('connection refused') } }
  const app = Fastify()
  app.register(anonKey, { jwt: { secret: JWT_SECRET }, store })
  await t.rejects(async () => { await app.ready() }, { code: 'STORE_UNAVAILABLE', message: 'The key store failed during initialize: connection refused' })
  await app.close().catch(() => {})
})

t.test('a start-up failure whose cause has no message is named by its code, or else its kind', async (t) => {
  const withCode = Object.assign(new AggregateError([], ''), { code: 'ECONNREFUSED' })
  for (const [cause, named] of [[withCode, 'ECONNREFUSED'], [new RangeError(''), 'RangeError']] as const) {
    const store: AnonKeyStore = { ...memoryStore(), subscribe: async () => { throw cause } }
    const app = Fastify()
    app.register(anonKey, { jwt: { secret: JWT_SECRET }, store })
    await t.rejects(async () => { await app.ready() }, { code: 'STORE_UNAVAILABLE', message: `The key store failed during subscribe: ${named}` })
    await app.close().catch(() => {})
  }
})

/** The warnings logged while an app with these options starts with NODE_ENV=production. */
async function productionWarnings (t: Test, options: Parameters<typeof startApp>[1]): Promise<string[]> {
  const before = process.env.NODE_ENV
  process.env.NODE_ENV = 'production'
  t.teardown(() => { process.env.NODE_ENV = before })
  const lines: Array<{ level: number, msg: string }> = []
  const app = Fastify({ logger: { level: 'warn', stream: { write: (line: string) => { lines.push(JSON.parse(line)) } } } })
  t.teardown(() => app.close())
  app.register(anonKey, { jwt: { secret: JWT_SECRET }, ...options })
  await app.ready()
  return lines.map((line) => line.msg)
}

t.test('NODE_ENV=production with the memory store and no initialKey logs a warning naming the persistent stores', async (t) => {
  for (const options of [{}, { store: memoryStore() }]) {
    const warnings = await productionWarnings(t, options)
    t.equal(warnings.length, 1, `one warning; logged: ${JSON.stringify(warnings)}`)
    t.match(warnings[0],
      /memory store, which loses it on restart.*cuts off every client.*postgresStore\(\{ pool \}\), redisStore\(\{ client \}\) or, on one host, sqliteStore\(\{ database \}\), or pass initialKey/)
  }
})

t.test('no such warning with initialKey, with another store, or outside production', async (t) => {
  t.same(await productionWarnings(t, { initialKey: generateAnonKey() }), [], 'initialKey keeps the key across restarts')
  const persistent: AnonKeyStore = { ...memoryStore() }
  t.same(await productionWarnings(t, { store: persistent }), [], 'a store that is not memoryStore() is trusted to persist')
  process.env.NODE_ENV = 'development'
  const lines: string[] = []
  const app = Fastify({ logger: { level: 'warn', stream: { write: (line: string) => { lines.push(line) } } } })
  t.teardown(() => app.close())
  app.register(anonKey, { jwt: { secret: JWT_SECRET } })
  await app.ready()
  t.same(lines, [], 'nothing logged outside production')
})

t.test('a store that never answers on start makes ready() reject after storeTimeoutMs', async (t) => {
  const store: AnonKeyStore = { ...memoryStore(), subscribe: () => new Promise(() => {}) }
  const app = Fastify()
  app.register(anonKey, { jwt: { secret: JWT_SECRET }, store, storeTimeoutMs: 50 })
  await t.rejects(async () => { await app.ready() }, { code: 'STORE_UNAVAILABLE', message: 'The key store did not answer subscribe within 50 ms.' })
  await app.close().catch(() => {})
})

t.test('closing the app stops listening to the store', async (t) => {
  const base = memoryStore()
  let listening = 0
  const store: AnonKeyStore = {
    ...base,
    async subscribe (listener) {
      listening += 1
      const unsubscribe = await base.subscribe(listener)
      return async () => {
        listening -= 1
        await unsubscribe()
      }
    }
  }
  const app = buildApp({ store })
  await app.ready()
  t.equal(listening, 1)
  await app.close()
  t.equal(listening, 0, 'the subscription was released on close')
})

t.test('a failing unsubscribe on close is logged, and close still resolves', async (t) => {
  const lines: any[] = []
  const store: AnonKeyStore = {
    ...memoryStore(),
    subscribe: async () => async () => { throw new Error('listener connection already gone') }
  }
  const app = Fastify({ logger: { level: 'warn', stream: { write: (line: string) => { lines.push(JSON.parse(line)) } } } })
  app.register(anonKey, { jwt: { secret: JWT_SECRET }, store })
  await app.ready()
  await app.close()
  t.ok(lines.some((line) => line.msg === 'anon key store unsubscribe failed'), `logged: ${JSON.stringify(lines)}`)
})

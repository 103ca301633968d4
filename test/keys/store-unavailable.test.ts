import Fastify from 'fastify'
import t from 'tap'
import { adminHeaders, assertError, currentKey, JWT_SECRET, rotate, startApp, useKey } from '../helpers/app.js'
import anonKey, { memoryStore, type AnonKeyStore } from '../../lib/index.js'

type Mode = 'up' | 'fail' | 'hang' | 'throw' | 'broken'

/** A real memoryStore behind a switch: up, failing (rejects), hanging (never answers), throwing synchronously, or answering nonsense. */
function switchableStore (): AnonKeyStore & { mode: Mode } {
  const base = memoryStore()
  const wrapped = { mode: 'up' as Mode, namespace: base.namespace } as AnonKeyStore & { mode: Mode }
  for (const method of ['load', 'update', 'loadRetired', 'subscribe', 'close'] as const) {
    (wrapped as any)[method] = (...args: unknown[]) => {
      switch (wrapped.mode) {
        case 'fail': return Promise.reject(new Error('ECONNREFUSED 10.1.2.3:5432 password=hunter2'))
        case 'hang': return new Promise(() => {})
        case 'throw': throw new Error('client is closed (secret detail)')
        case 'broken': return Promise.resolve(method === 'load' ? null : undefined)
        default: return (base as any)[method](...args)
      }
    }
  }
  return wrapped
}

const adminRequests = [
  { method: 'GET' as const, url: '/api/metadata/anon-key' },
  { method: 'POST' as const, url: '/api/secrets/anon-key/rotate' },
  { method: 'GET' as const, url: '/api/secrets/anon-key/previous' },
  { method: 'DELETE' as const, url: '/api/secrets/anon-key/previous' },
  { method: 'DELETE' as const, url: '/api/secrets/anon-key/previous/0123456789ab' }
]

for (const mode of ['fail', 'hang', 'throw'] as const) {
  t.test(`with a store that ${mode === 'fail' ? 'rejects' : mode === 'hang' ? 'never answers' : 'throws'}, every admin route answers 503 STORE_UNAVAILABLE without store details`, async (t) => {
    const store = switchableStore()
    const app = await startApp(t, { store, storeTimeoutMs: 100 })
    store.mode = mode
    for (const request of adminRequests) {
      const response = await app.inject({ ...request, headers: adminHeaders() })
      assertError(t, response, 503, 'STORE_UNAVAILABLE')
      t.notMatch(response.body, /ECONNREFUSED|hunter2|secret detail|\bat .*\(/, 'the client never sees the store error or a stack')
    }
  })
}

t.test('while the store is down the last known keys keep verifying, with expiry enforced', async (t) => {
  const store = switchableStore()
  const app = await startApp(t, { store, storeTimeoutMs: 100 })
  const expired = await currentKey(app)
  await rotate(app, { gracePeriodHours: 0 })
  const previous = await currentKey(app)
  await rotate(app, { gracePeriodHours: 1 })
  const current = await currentKey(app)
  assertError(t, await useKey(app, expired), 401, 'ANON_KEY_EXPIRED') // loads the retired keys, kept until the next change
  store.mode = 'fail'
  assertError(t, await rotate(app), 503, 'STORE_UNAVAILABLE')
  t.equal((await useKey(app, current)).statusCode, 200, 'the current key still verifies')
  t.equal((await useKey(app, previous)).statusCode, 200, 'a previous key in its grace still verifies')
  assertError(t, await useKey(app, expired), 401, 'ANON_KEY_EXPIRED')
})

t.test('when the store comes back, the admin routes recover without a restart', async (t) => {
  const store = switchableStore()
  const app = await startApp(t, { store, storeTimeoutMs: 100 })
  store.mode = 'hang'
  assertError(t, await rotate(app), 503, 'STORE_UNAVAILABLE')
  store.mode = 'up'
  const response = await rotate(app)
  t.equal(response.statusCode, 200, `client got ${response.statusCode} ${response.body}`)
  t.equal((await useKey(app, response.json().anonKey)).statusCode, 200)
})

t.test('a failed reload of the cache is logged and the cache keeps the last known keys', async (t) => {
  const store = switchableStore()
  const lines: any[] = []
  const app = Fastify({ logger: { level: 'error', stream: { write: (line: string) => { lines.push(JSON.parse(line)) } } } })
  t.teardown(() => app.close())
  app.register(anonKey, { jwt: { secret: JWT_SECRET }, store, cacheTtlMs: 10, storeTimeoutMs: 100 })
  app.get('/data', { onRequest: (request, reply, done) => app.verifyAnonKey(request, reply, done) }, async () => ({ ok: true }))
  await app.ready()
  const key = (await app.anonKey.get()) as string
  store.mode = 'fail'
  const deadline = Date.now() + 5000
  while (!lines.some((line) => line.msg === 'anon key store unreachable; verifying with the last known keys') && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  t.ok(lines.some((line) => line.msg === 'anon key store unreachable; verifying with the last known keys'), 'the failed reload was logged')
  t.equal((await app.inject({ url: '/data', headers: { authorization: `Bearer ${key}` } })).statusCode, 200)
  store.mode = 'up'
})

t.test('a store answering nonsense gets 503 STORE_UNAVAILABLE with no stack or detail, and is logged', async (t) => {
  const store = switchableStore()
  const lines: any[] = []
  const app = Fastify({ logger: { level: 'error', stream: { write: (line: string) => { lines.push(JSON.parse(line)) } } } })
  t.teardown(() => app.close())
  app.register(anonKey, { jwt: { secret: JWT_SECRET }, store })
  await app.ready()
  store.mode = 'broken'
  const response = await app.inject({ url: '/api/metadata/anon-key', headers: adminHeaders() })
  assertError(t, response, 503, 'STORE_UNAVAILABLE')
  t.equal(response.json().message, 'The key store returned a malformed answer.')
  t.notMatch(response.body, /TypeError|null|\.ts|stack/i)
  t.ok(lines.some((line) => line.msg === 'anon key admin route failed' && line.err !== undefined), 'the error is in the server log')
  store.mode = 'up'
})

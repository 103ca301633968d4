import Fastify from 'fastify'
import t from 'tap'
import anonKey, { memoryStore, type AnonKeyStore } from '../../lib/index.js'
import { adminHeaders, assertError, internalsOf, JWT_SECRET, startApp, useKey } from '../helpers/app.js'
import { fakeDateNow } from '../helpers/clock.js'
import { eventually } from '../helpers/eventually.js'
import { faultyStore } from '../helpers/faulty-store.js'
import { keysRequest } from '../helpers/named-keys.js'
import { isTenantAdmin, startTenantApp, tenantFromHeader, useTenantKey } from '../helpers/tenants.js'

t.test('without notifications, a cached tenant is reloaded on its first use after cacheTtlMs', async (t) => {
  const store = faultyStore(memoryStore())
  const app = await startTenantApp(t, { store, cacheTtlMs: 30 })
  const old = (await app.anonKey.forTenant('acme').initialize()).anonKey
  const other = await startTenantApp(t, { store })
  t.equal((await useTenantKey(app, 'acme', old)).statusCode, 200)
  store.breakOn('notify', 'fail')
  await other.anonKey.forTenant('acme').rotate({ gracePeriodHours: 0 })
  await eventually('the rotation to be seen after the fallback reload', async () => (await useTenantKey(app, 'acme', old)).statusCode === 401, 5_000)
})

t.test('a notification that changes may have been missed makes every cached tenant reload on its next use', async (t) => {
  const inner = memoryStore()
  let listener: ((project: string | null) => void) | null = null
  const store: AnonKeyStore = {
    ...inner,
    subscribe: async (heard) => {
      listener = heard
      return async () => {}
    }
  }
  const app = await startTenantApp(t, { store })
  const writer = await startTenantApp(t, { store: inner })
  const acme = (await writer.anonKey.forTenant('acme').initialize()).anonKey
  const globex = (await writer.anonKey.forTenant('globex').initialize()).anonKey
  t.equal((await useTenantKey(app, 'acme', acme)).statusCode, 200)
  t.equal((await useTenantKey(app, 'globex', globex)).statusCode, 200)
  await writer.anonKey.forTenant('acme').rotate({ gracePeriodHours: 0 })
  await writer.anonKey.forTenant('globex').rotate({ gracePeriodHours: 0 })
  t.equal((await useTenantKey(app, 'acme', acme)).statusCode, 200, 'nothing heard yet')
  ;(listener as unknown as (project: string | null) => void)(null)
  await eventually('both cached tenants to be reloaded on their use', async () => (await useTenantKey(app, 'acme', acme)).statusCode === 401 && (await useTenantKey(app, 'globex', globex)).statusCode === 401, 5_000)
  ;(listener as unknown as (project: string | null) => void)('nobody-cached')
})

t.test('a malformed snapshot from a buggy store is refused: admin calls answer 503, verification keeps the last good keys', async (t) => {
  const inner = memoryStore()
  let broken = false
  const store: AnonKeyStore = {
    ...inner,
    load: async (project) => broken ? { version: 99, state: { keys: [{ name: 'default', currentKey: 'oops' }] } } as any : inner.load(project)
  }
  const app = await startApp(t, { store })
  const key = (await app.anonKey.get()) as string
  broken = true
  const answer = await app.inject({ url: '/api/metadata/anon-key', headers: adminHeaders() })
  assertError(t, answer, 503, 'STORE_UNAVAILABLE')
  t.equal((await useKey(app, key)).statusCode, 200, 'the last good keys still verify')
  await internalsOf(app).refresh()
  t.equal((await useKey(app, key)).statusCode, 200, 'a reload that reads a malformed snapshot changes nothing')
})

t.test('an async listener that rejects is logged, never an unhandled rejection', async (t) => {
  const logs: string[] = []
  const app = Fastify({ logger: { level: 'error', stream: { write: (line: string) => { logs.push(line) } } } })
  app.register(anonKey, { jwt: { secret: JWT_SECRET } })
  t.teardown(() => app.close())
  await app.ready()
  app.anonKey.on('created', async () => { throw new Error('audit log down') })
  await app.anonKey.createKey({ name: 'web' })
  await eventually('the rejection to be logged', () => logs.some((line) => line.includes('audit log down')), 5_000)
  t.match(JSON.parse(logs.find((line) => line.includes('audit log down')) as string).msg, /"created" event rejected/)
})

t.test('a key that stopped verifying over 30 days ago answers AUTH_INVALID_CREDENTIALS, whether or not the cache was reloaded since', async (t) => {
  const clock = fakeDateNow(Date.UTC(2030, 0, 1))
  t.teardown(() => clock.restore())
  const app = await startApp(t)
  const web = await app.anonKey.createKey({ name: 'web' })
  await app.anonKey.rotate({ name: 'web', gracePeriodHours: 0 })
  assertError(t, await useKey(app, web.anonKey), 401, 'ANON_KEY_EXPIRED')
  clock.advance(31 * 24 * 3_600_000)
  assertError(t, await useKey(app, web.anonKey), 401, 'AUTH_INVALID_CREDENTIALS')
  await app.anonKey.rotate({ name: 'web', gracePeriodHours: 0 })
  assertError(t, await useKey(app, web.anonKey), 401, 'AUTH_INVALID_CREDENTIALS')
})

t.test('with the host\'s ignoreTrailingSlash, DELETE …/previous/ revokes nothing, for default and for a name', async (t) => {
  const app = Fastify({ routerOptions: { ignoreTrailingSlash: true } })
  app.register(anonKey, { jwt: { secret: JWT_SECRET } })
  t.teardown(() => app.close())
  await app.ready()
  await app.anonKey.createKey({ name: 'web' })
  await app.anonKey.rotate({ name: 'web' })
  await app.anonKey.rotate()
  assertError(t, await keysRequest(app, 'DELETE', '/web/previous/'), 400, 'INVALID_INPUT')
  const seed = await app.inject({ method: 'DELETE', url: '/api/secrets/anon-key/previous/', headers: adminHeaders() })
  assertError(t, seed, 400, 'INVALID_INPUT')
  t.equal((await app.anonKey.listPrevious({ name: 'web' })).length, 1)
  t.equal((await app.anonKey.listPrevious()).length, 1)
})

t.test('a tenant whose reload fails keeps its last keys, and the failure is logged with the tenant', async (t) => {
  const logs: string[] = []
  const store = faultyStore(memoryStore())
  const app = Fastify({ logger: { level: 'error', stream: { write: (line: string) => { logs.push(line) } } } })
  app.register(anonKey, { jwt: { secret: JWT_SECRET }, store, tenant: tenantFromHeader, isAdmin: isTenantAdmin })
  app.get('/awaited', async (request, reply) => {
    await app.verifyAnonKey(request, reply)
    return { anonKey: request.anonKey }
  })
  t.teardown(() => app.close())
  await app.ready()
  const key = (await app.anonKey.forTenant('acme').initialize()).anonKey
  const other = Fastify()
  other.register(anonKey, { jwt: { secret: JWT_SECRET }, store, tenant: tenantFromHeader, isAdmin: isTenantAdmin })
  other.get('/awaited', async (request, reply) => {
    await other.verifyAnonKey(request, reply)
    return { anonKey: request.anonKey }
  })
  t.teardown(() => other.close())
  await other.ready()
  const awaited = await other.inject({ url: '/awaited', headers: { 'x-tenant': 'acme', authorization: `Bearer ${key}` } })
  t.equal(awaited.json().anonKey.tenant, 'acme', 'awaited, an uncached tenant is loaded and verified')
  store.breakOn('load', 'fail')
  await internalsOf(app).refresh('acme')
  t.ok(logs.some((line) => line.includes('"project":"acme"') && line.includes('verifying with the last known keys')))
  t.equal((await app.inject({ url: '/awaited', headers: { 'x-tenant': 'acme', authorization: `Bearer ${key}` } })).statusCode, 200)
  store.heal()
})

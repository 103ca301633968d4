import Fastify from 'fastify'
import t from 'tap'
import anonKey, { memoryStore, type CreatedEvent, type RotatedEvent } from '../../lib/index.js'
import { fingerprintOf } from '../../lib/stores/index.js'
import { adminToken, assertError, JWT_SECRET } from '../helpers/app.js'
import { faultyStore } from '../helpers/faulty-store.js'
import { keysRequest } from '../helpers/named-keys.js'
import { isTenantAdmin, startTenantApp, tenantAdminHeaders, tenantFromHeader, useTenantKey } from '../helpers/tenants.js'

async function tenantKey (app: Awaited<ReturnType<typeof startTenantApp>>, tenant: string): Promise<string> {
  const response = await app.inject({ url: '/api/metadata/anon-key', headers: tenantAdminHeaders(tenant) })
  if (response.statusCode !== 200) throw new Error(`GET for ${tenant}: ${response.statusCode} ${response.body}`)
  return response.json().anonKey
}

/** ready() of an app with these options, closed afterwards. */
async function readyWith (options: unknown): Promise<void> {
  const app = Fastify()
  app.register(anonKey, { jwt: { secret: JWT_SECRET }, ...(options as object) })
  try {
    await app.ready()
  } finally {
    await app.close().catch(() => {})
  }
}

t.test('with tenant, ready() rejects unless isAdmin(payload, request) or authorize is given', async (t) => {
  await t.rejects(readyWith({ tenant: tenantFromHeader }), /option "tenant" needs isAdmin\(payload, request\) or authorize\(request\)/)
  await readyWith({ tenant: tenantFromHeader, isAdmin: isTenantAdmin })
  await readyWith({ tenant: tenantFromHeader, authorize: () => true })
  const bad = [
    [{ tenant: 'x-tenant' }, /option "tenant" must be a function/],
    [{ tenant: tenantFromHeader, isAdmin: isTenantAdmin, initialKey: 'anon_' + 'a'.repeat(64) }, /option "initialKey" cannot be used with tenant/],
    [{ tenant: tenantFromHeader, isAdmin: isTenantAdmin, maxCachedTenants: 0 }, /option "maxCachedTenants"/],
    [{ tenant: tenantFromHeader, isAdmin: isTenantAdmin, maxTenantLoads: 1.5 }, /option "maxTenantLoads"/],
    [{ maxCachedTenants: 5 }, /option "maxCachedTenants" only applies in tenant mode/],
    [{ maxKeys: 0 }, /option "maxKeys"/]
  ] as const
  for (const [options, message] of bad) await t.rejects(readyWith(options), message)
})

t.test("a tenant's default key is made on its first admin request; each tenant has its own keys, isolated", async (t) => {
  const app = await startTenantApp(t)
  const acme = await tenantKey(app, 'acme')
  const globex = await tenantKey(app, 'globex')
  t.not(acme, globex)
  t.equal(await tenantKey(app, 'acme'), acme, 'made once')
  const verified = await useTenantKey(app, 'acme', acme)
  t.equal(verified.statusCode, 200)
  t.same(verified.json().anonKey, { role: 'anon', name: 'default', fingerprint: fingerprintOf(acme), expiresAt: null, tenant: 'acme' })
  assertError(t, await useTenantKey(app, 'globex', acme), 401, 'AUTH_INVALID_CREDENTIALS')
  assertError(t, await useTenantKey(app, undefined, acme), 401, 'AUTH_INVALID_CREDENTIALS')
  assertError(t, await useTenantKey(app, 'not a tenant!', acme), 401, 'AUTH_INVALID_CREDENTIALS')
  assertError(t, await useTenantKey(app, 'initech', acme), 401, 'AUTH_INVALID_CREDENTIALS')
  assertError(t, await useTenantKey(app, 'x'.repeat(65), acme), 401, 'AUTH_INVALID_CREDENTIALS')
})

t.test('admin routes: no tenant is 404, another tenant\'s admin is 403, and named keys live per tenant', async (t) => {
  const app = await startTenantApp(t)
  assertError(t, await app.inject({ url: '/api/metadata/anon-key', headers: { authorization: tenantAdminHeaders('acme').authorization } }), 403, 'FORBIDDEN')
  const noTenant = await app.inject({ url: '/api/secrets/anon-keys', headers: { authorization: `Bearer ${adminToken({ tenant: undefined })}` } })
  assertError(t, noTenant, 404, 'NOT_FOUND')
  assertError(t, await app.inject({ method: 'POST', url: '/api/secrets/anon-key/rotate', headers: tenantAdminHeaders('acme', 'globex') }), 403, 'FORBIDDEN')
  const web = (await keysRequest(app, 'POST', '', { name: 'web' }, tenantAdminHeaders('acme'))).json()
  t.equal((await useTenantKey(app, 'acme', web.anonKey)).json().anonKey.name, 'web')
  assertError(t, await useTenantKey(app, 'globex', web.anonKey), 401, 'AUTH_INVALID_CREDENTIALS')
  assertError(t, await keysRequest(app, 'GET', '/web', undefined, tenantAdminHeaders('globex')), 404, 'NOT_FOUND')
  t.same((await keysRequest(app, 'GET', '', undefined, tenantAdminHeaders('globex'))).json().anonKeys.map((key: { name: string }) => key.name), ['default'])
})

t.test('forTenant(id) offers the whole API for one tenant; events and request.anonKey carry the tenant', async (t) => {
  const app = await startTenantApp(t, { autoInitialize: false })
  const events: Array<RotatedEvent | CreatedEvent> = []
  app.anonKey.on('rotated', (event) => { events.push(event) })
  app.anonKey.on('created', (event) => { events.push(event) })
  const acme = app.anonKey.forTenant('acme')
  t.equal(await acme.get(), null)
  assertError(t, await app.inject({ url: '/api/metadata/anon-key', headers: tenantAdminHeaders('acme') }), 404, 'ANON_KEY_NOT_INITIALIZED')
  const { anonKey: first } = await acme.initialize()
  const rotated = await acme.rotate({ gracePeriodHours: 1 }, { actor: 'provisioner' })
  await acme.createKey({ name: 'ios' })
  t.match(await acme.verify(first), { valid: true, tenant: 'acme', name: 'default' })
  t.match(await app.anonKey.forTenant('globex').verify(rotated.anonKey), { valid: false, code: 'AUTH_INVALID_CREDENTIALS' })
  t.same(events.map((event) => [event.tenant, event.name]), [['acme', 'default'], ['acme', 'ios']])
  t.equal((await useTenantKey(app, 'acme', first)).json().anonKey.tenant, 'acme')
  t.throws(() => app.anonKey.forTenant('bad id'), { code: 'INVALID_INPUT' })
  t.throws(() => app.anonKey.get(), { code: 'INVALID_INPUT', message: /forTenant/ })
})

t.test('a cached tenant costs no store call; beyond maxCachedTenants the least recently used is evicted and loaded again', async (t) => {
  const store = faultyStore(memoryStore())
  const app = await startTenantApp(t, { store, maxCachedTenants: 2 })
  const keys: Record<string, string> = {}
  for (const tenant of ['a', 'b', 'c']) keys[tenant] = (await app.anonKey.forTenant(tenant).initialize()).anonKey
  const loads = () => store.calls.load ?? 0
  const before = loads()
  for (let i = 0; i < 20; i++) t.equal((await useTenantKey(app, 'c', keys.c)).statusCode, 200)
  t.equal(loads(), before, 'no store call for a cached tenant')
  t.equal((await useTenantKey(app, 'a', keys.a)).statusCode, 200, 'an evicted tenant verifies again')
  t.equal(loads(), before + 1, 'after one load')
  for (let i = 0; i < 5; i++) assertError(t, await useTenantKey(app, 'nobody', keys.a), 401, 'AUTH_INVALID_CREDENTIALS')
  t.equal(loads(), before + 2, 'a tenant without keys is loaded once, then known to have none')
})

t.test('concurrent first requests of a tenant share one load', async (t) => {
  const store = faultyStore(memoryStore())
  const app = await startTenantApp(t, { store })
  const key = (await app.anonKey.forTenant('acme').initialize()).anonKey
  const restarted = await startTenantApp(t, { store })
  const before = store.calls.load ?? 0
  const responses = await Promise.all(Array.from({ length: 20 }, () => useTenantKey(restarted, 'acme', key)))
  t.ok(responses.every((response) => response.statusCode === 200))
  t.equal((store.calls.load ?? 0) - before, 1)
})

t.test('a flood of unknown tenants is bounded: beyond maxTenantLoads a request gets 503 with Retry-After, cached tenants keep verifying', async (t) => {
  const store = faultyStore(memoryStore())
  const app = await startTenantApp(t, { store, maxTenantLoads: 2 })
  const key = (await app.anonKey.forTenant('real').initialize()).anonKey
  t.equal((await useTenantKey(app, 'real', key)).statusCode, 200)
  store.breakOn('load', 'stall')
  const flood = Array.from({ length: 10 }, (_, i) => useTenantKey(app, `random-${i}`, key))
  const refused = await Promise.race([Promise.all(flood.slice(2)), new Promise((resolve) => setTimeout(resolve, 2000, null))]) as any[]
  t.ok(refused !== null, 'requests beyond the bound are answered at once')
  for (const response of refused) {
    assertError(t, response, 503, 'STORE_UNAVAILABLE')
    t.equal(response.headers['retry-after'], '1')
  }
  t.equal((await useTenantKey(app, 'real', key)).statusCode, 200, 'a cached tenant verifies throughout')
  store.heal()
})

t.test('a tenant whose keys cannot be loaded gets 503, and recovers when the store does', async (t) => {
  const store = faultyStore(memoryStore())
  const app = await startTenantApp(t, { store, storeTimeoutMs: 200 })
  const key = (await app.anonKey.forTenant('acme').initialize()).anonKey
  const other = await startTenantApp(t, { store, storeTimeoutMs: 200 })
  store.breakOn('load', 'fail')
  assertError(t, await useTenantKey(other, 'acme', key), 503, 'STORE_UNAVAILABLE')
  t.same(await other.anonKey.forTenant('acme').verify(key), { valid: false, code: 'AUTH_INVALID_CREDENTIALS' }, 'verify() never throws')
  store.heal()
  t.equal((await useTenantKey(other, 'acme', key)).statusCode, 200)
  t.equal((await useTenantKey(app, 'acme', key)).statusCode, 200)
})

t.test('a change in one instance reaches another that has the tenant cached, and only that tenant is reloaded', async (t) => {
  const inner = memoryStore()
  const loaded: string[] = []
  const store = { ...inner, load: (project: string) => { loaded.push(project); return inner.load(project) } }
  const first = await startTenantApp(t, { store })
  const second = await startTenantApp(t, { store })
  const old = await tenantKey(first, 'acme')
  const globexKey = await tenantKey(first, 'globex')
  t.equal((await useTenantKey(second, 'acme', old)).statusCode, 200)
  t.equal((await useTenantKey(second, 'globex', globexKey)).statusCode, 200)
  loaded.length = 0
  await first.inject({ method: 'POST', url: '/api/secrets/anon-key/rotate', headers: { ...tenantAdminHeaders('acme'), 'content-type': 'application/json' }, payload: '{"gracePeriodHours":0}' })
  for (let i = 0; i < 50 && (await useTenantKey(second, 'acme', old)).statusCode === 200; i++) await new Promise((resolve) => setTimeout(resolve, 10))
  assertError(t, await useTenantKey(second, 'acme', old), 401, 'ANON_KEY_EXPIRED')
  t.same([...new Set(loaded)], ['acme'], 'only acme was reloaded')
  t.equal((await useTenantKey(second, 'globex', globexKey)).statusCode, 200)
})

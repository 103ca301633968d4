import Fastify, { type FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import anonKey, { type AnonKeyStore, type FastifyAnonKeyOptions } from '../../lib/index.js'
import { JWT_SECRET, useKey } from './app.js'
import { useKeyFrom } from './named-keys.js'
import { isTenantAdmin, tenantFromHeader, useTenantKey } from './tenants.js'

/** How long another instance may take to see a change through the store's notification. */
const PROPAGATION_BOUND_MS = 2000

async function instance (t: Test, store: AnonKeyStore, options: FastifyAnonKeyOptions = {}): Promise<FastifyInstance> {
  const app = Fastify()
  app.register(anonKey, { jwt: { secret: JWT_SECRET }, store, ...options })
  app.register(async (guarded) => {
    guarded.addHook('onRequest', guarded.verifyAnonKey)
    guarded.get('/data', async (request) => ({ anonKey: request.anonKey }))
  })
  t.teardown(() => app.close())
  await app.ready()
  return app
}

/** Asks until the status is the one expected, within the propagation bound; resolves to the last status. */
async function eventuallyStatus (ask: () => Promise<{ statusCode: number }>, status: number): Promise<number> {
  const started = Date.now()
  let answer = await ask()
  while (answer.statusCode !== status && Date.now() - started < PROPAGATION_BOUND_MS) {
    await new Promise((resolve) => setTimeout(resolve, 5))
    answer = await ask()
  }
  return answer.statusCode
}

/**
 * Named keys across two instances on one backend: each instance has its own store (own client or pool) on the
 * same namespace, as two processes would. `makeStore(namespace)` builds one.
 */
export function namedKeyScenarios (t: Test, makeStore: (namespace: string) => AnonKeyStore, namespace: () => string): void {
  t.test('named keys: a change through one instance is seen by the other; concurrent changes of different names all land', async (t) => {
    const ns = namespace()
    const [one, two] = [await instance(t, makeStore(ns)), await instance(t, makeStore(ns))]
    const web = await one.anonKey.createKey({ name: 'web', allowedOrigins: ['https://app.example.com'] })
    const ios = await one.anonKey.createKey({ name: 'ios' })
    t.equal(await eventuallyStatus(() => useKeyFrom(two, web.anonKey, { origin: 'https://app.example.com' }), 200), 200)
    t.equal((await useKeyFrom(two, web.anonKey, { origin: 'https://evil.example' })).statusCode, 403)
    await one.anonKey.rotate({ name: 'web', gracePeriodHours: 0 })
    t.equal(await eventuallyStatus(() => useKeyFrom(two, web.anonKey, { origin: 'https://app.example.com' }), 401), 401, 'the 0 h rotation reached the other instance')
    await two.anonKey.deleteKey('ios')
    t.equal(await eventuallyStatus(() => useKey(one, ios.anonKey), 401), 401)
    t.same(await one.anonKey.verify(ios.anonKey), { valid: false, code: 'ANON_KEY_REVOKED' })

    const names = ['a', 'b', 'c', 'd']
    await Promise.all(names.map((name, i) => [one, two][i % 2].anonKey.createKey({ name })))
    await Promise.all(names.flatMap((name) => [
      one.anonKey.rotate({ name }),
      two.anonKey.rotate({ name }),
      one.anonKey.updateKey(name, { description: name.toUpperCase() }),
      two.anonKey.revokePrevious(undefined, { name: 'web' })
    ]))
    const keys = await two.anonKey.listKeys()
    t.same(keys.map((key) => key.name), ['a', 'b', 'c', 'd', 'default', 'web'])
    for (const key of keys.filter((key) => names.includes(key.name))) {
      t.equal(key.previousKeys.length, 2, `${key.name}: both rotations landed`)
      t.equal(key.description, key.name.toUpperCase(), `${key.name}: the patch landed`)
    }
  })
}

/** Tenant mode across two instances on one backend. */
export function tenantScenarios (t: Test, makeStore: (namespace: string) => AnonKeyStore, namespace: () => string): void {
  t.test('tenants: isolated, a tenant\'s rotation reaches the other instance, a flood of unknown tenants stays bounded', async (t) => {
    const ns = namespace()
    const options = { tenant: tenantFromHeader, isAdmin: isTenantAdmin }
    const [one, two] = [await instance(t, makeStore(ns), options), await instance(t, makeStore(ns), { ...options, maxTenantLoads: 4 })]
    const acme = (await one.anonKey.forTenant('acme').initialize()).anonKey
    const globex = (await one.anonKey.forTenant('globex').initialize()).anonKey
    t.equal((await useTenantKey(two, 'acme', acme)).statusCode, 200)
    t.equal((await useTenantKey(two, 'globex', acme)).statusCode, 401, 'a key of one tenant never verifies for another')
    t.equal((await useTenantKey(two, 'globex', globex)).statusCode, 200)
    await one.anonKey.forTenant('acme').rotate({ gracePeriodHours: 0 })
    t.equal(await eventuallyStatus(() => useTenantKey(two, 'acme', acme), 401), 401, 'the rotation reached the other instance')
    t.equal((await useTenantKey(two, 'globex', globex)).statusCode, 200, 'globex untouched')
    const flood = await Promise.all(Array.from({ length: 40 }, (_, i) => useTenantKey(two, `random-${i}`, acme)))
    t.ok(flood.every((response) => response.statusCode === 401 || response.statusCode === 503), 'unknown tenants: 401, or 503 beyond the bound')
    t.equal((await useTenantKey(two, 'globex', globex)).statusCode, 200, 'a cached tenant verifies throughout')
    t.same(await two.anonKey.forTenant('nobody').listKeys(), [])
  })
}

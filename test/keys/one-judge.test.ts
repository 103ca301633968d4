import fc from 'fast-check'
import t from 'tap'
import { memoryStore } from '../../lib/index.js'
import { generateAnonKey } from '../../lib/stores/index.js'
import { CLOCK_START, fakeDateNow, HOUR_MS } from '../helpers/clock.js'
import { eventually } from '../helpers/eventually.js'
import { propertySettings } from '../helpers/property.js'
import { startTenantApp } from '../helpers/tenants.js'

const ALLOWED = 'https://app.example.com'

/**
 * verifyAnonKey and `forTenant(id).verify(key, { origin, referer })` give one verdict for the same key, headers,
 * tenant and moment: random keys (current, in grace, expired, revoked, of a restricted name, unknown, malformed),
 * origins and referers, instants around the end of a grace period, and tenants (one with keys, one unknown).
 */
t.test('the hook and verify() judge alike', async (t) => {
  const clock = fakeDateNow(CLOCK_START)
  t.teardown(() => clock.restore())
  const app = await startTenantApp(t, { store: memoryStore(), cacheTtlMs: 60_000 })
  const acme = app.anonKey.forTenant('acme')
  await acme.initialize()
  const inGrace = await acme.get() as string
  await acme.rotate({ gracePeriodHours: 1 })
  const revoked = await acme.get() as string
  await acme.rotate({ gracePeriodHours: 1 })
  const [{ fingerprint }] = await acme.listPrevious()
  await acme.revokePrevious(fingerprint)
  const expired = await acme.get() as string
  await acme.rotate({ gracePeriodHours: 0 })
  const current = await acme.get() as string
  const web = (await acme.createKey({ name: 'web', allowedOrigins: [ALLOWED] })).anonKey
  const keys = [current, inGrace, revoked, expired, web, generateAnonKey(), 'anon_' + 'G'.repeat(64), '', current.toUpperCase()]
  const origins = [undefined, ALLOWED, `${ALLOWED}:443`, 'https://evil.example.com', 'null']
  const referers = [undefined, `${ALLOWED}/page`, 'https://evil.example.com/page', 'not a url']

  const property = fc.asyncProperty(
    fc.constantFrom(...keys), fc.constantFrom(...origins), fc.constantFrom(...referers),
    fc.constantFrom(0, 30 * 60_000, HOUR_MS - 1, HOUR_MS, 2 * HOUR_MS), fc.constantFrom('acme', 'nobody'),
    async (key, origin, referer, after, tenant) => {
      clock.set(CLOCK_START + after)
      const headers: Record<string, string> = { 'x-tenant': tenant, authorization: `Bearer ${key}` }
      if (origin !== undefined) headers.origin = origin
      if (referer !== undefined) headers.referer = referer
      const response = await app.inject({ url: '/data', headers })
      const hook = response.statusCode === 200 ? { valid: true, ...response.json().anonKey } : { valid: false, code: response.json().error }
      const verified = await app.anonKey.forTenant(tenant).verify(key, { origin, referer })
      t.same(verified, hook, `${tenant}: key ${key.slice(0, 12)}… origin ${origin} referer ${referer} at +${after} ms`)
    })
  await fc.assert(property, propertySettings(t, 300))
})

t.test('verify() follows the freshness rule of verifyAnonKey: a tenant held past cacheTtlMs is reloaded', async (t) => {
  const shared = memoryStore()
  const writer = await startTenantApp(t, { store: shared })
  // An instance that never hears a notification, and has no poll: only cacheTtlMs brings it the change.
  const deaf = await startTenantApp(t, { store: { ...shared, namespace: shared.namespace, subscribe: async () => async () => {} }, cacheTtlMs: 300 })
  const old = (await writer.anonKey.forTenant('acme').initialize()).anonKey
  t.equal((await deaf.anonKey.forTenant('acme').verify(old)).valid, true, 'the deaf instance holds the tenant')
  const { anonKey: fresh } = await writer.anonKey.forTenant('acme').rotate({ gracePeriodHours: 0 })
  await eventually('verify() on the deaf instance refusing the old key', async () => (await deaf.anonKey.forTenant('acme').verify(old)).valid === false, 3000)
  t.equal((await deaf.anonKey.forTenant('acme').verify(fresh)).valid, true, 'and accepting the new one')
})

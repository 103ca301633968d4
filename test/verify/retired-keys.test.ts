import t from 'tap'
import { eventually } from '../helpers/eventually.js'
import { memoryStore, type AnonKeyStore } from '../../lib/index.js'
import type { RetiredKeyRecord } from '../../lib/stores/index.js'
import { adminHeaders, assertError, currentKey, internalsOf, rotate, startApp, useKey } from '../helpers/app.js'
import { countingStore } from '../helpers/counting-store.js'
import { faultyStore } from '../helpers/faulty-store.js'
import { startTenantApp, tenantAdminHeaders, useTenantKey } from '../helpers/tenants.js'

/** An app whose `default` key was rotated with a grace of 0 (expired) and then revoked: two retired keys. */
async function appWithRetiredKeys (t: Parameters<typeof startApp>[0], store: AnonKeyStore) {
  const app = await startApp(t, { store })
  const expired = await currentKey(app)
  await rotate(app, { gracePeriodHours: 0 })
  const revoked = await currentKey(app)
  await rotate(app, { gracePeriodHours: 1 })
  await app.inject({ method: 'DELETE', url: '/api/secrets/anon-key/previous', headers: adminHeaders() })
  await new Promise((resolve) => setTimeout(resolve, 20)) // let the change notifications' reloads finish
  return { app, expired, revoked }
}

t.test('retired keys are loaded once, on the first key the document does not know, shared by concurrent requests', async (t) => {
  const { store, count, reset } = countingStore(memoryStore())
  const { app, expired, revoked } = await appWithRetiredKeys(t, store)
  reset()
  const unknown = `anon_${'a'.repeat(64)}`
  const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => useKey(app, [expired, revoked, unknown][i % 3])))
  t.same([...new Set(answers.map((answer) => answer.json().error))].sort(), ['ANON_KEY_EXPIRED', 'ANON_KEY_REVOKED', 'AUTH_INVALID_CREDENTIALS'])
  for (let i = 0; i < 200; i++) await useKey(app, `anon_${i.toString(16).padStart(64, 'b')}`)
  t.equal(count('loadRetired'), 1, 'one load for 250 requests with keys the document does not know')
  t.equal(count('load'), 0, 'and nothing else')
  await rotate(app, { gracePeriodHours: 1 })
  reset()
  assertError(t, await useKey(app, revoked), 401, 'ANON_KEY_REVOKED')
  assertError(t, await useKey(app, expired), 401, 'ANON_KEY_EXPIRED')
  t.equal(count('loadRetired'), 1, 'loaded again once after the project changed')
})

t.test('app.anonKey.verify answers for retired keys too', async (t) => {
  const { app, expired, revoked } = await appWithRetiredKeys(t, memoryStore())
  t.same(await app.anonKey.verify(expired), { valid: false, code: 'ANON_KEY_EXPIRED' })
  t.same(await app.anonKey.verify(revoked), { valid: false, code: 'ANON_KEY_REVOKED' })
  t.same(await app.anonKey.verify(`anon_${'c'.repeat(64)}`), { valid: false, code: 'AUTH_INVALID_CREDENTIALS' })
})

t.test('with loadRetired failing, retired keys are refused as unknown, one attempt until the next reload, and logged', async (t) => {
  const store = faultyStore(memoryStore())
  const { app, revoked } = await appWithRetiredKeys(t, store)
  const warnings: string[] = []
  app.log.warn = ((object: unknown, message: string) => { warnings.push(message) }) as typeof app.log.warn
  store.breakOn('loadRetired', 'fail')
  for (let i = 0; i < 20; i++) assertError(t, await useKey(app, revoked), 401, 'AUTH_INVALID_CREDENTIALS')
  t.equal(store.calls.loadRetired, 1, 'one attempt for 20 requests')
  t.match(warnings, [/retired keys not loaded/], 'the failure is logged once')
  store.heal()
  await internalsOf(app).refresh() // what cacheTtlMs or a notification does
  assertError(t, await useKey(app, revoked), 401, 'ANON_KEY_REVOKED')
  t.equal(store.calls.loadRetired, 2, 'tried again after the reload')
})

t.test('a malformed answer of loadRetired is refused like a failure', async (t) => {
  const base = memoryStore()
  const store: AnonKeyStore = { ...base, loadRetired: async () => [{ digest: 'not a digest' }] as unknown as RetiredKeyRecord[] }
  const { app, revoked } = await appWithRetiredKeys(t, store)
  assertError(t, await useKey(app, revoked), 401, 'AUTH_INVALID_CREDENTIALS')
})

for (const outcome of ['answers', 'fails'] as const) {
  t.test(`a load of the retired keys that ${outcome} after the project changed is made again for the new document`, async (t) => {
    const base = memoryStore()
    let release: () => void = () => {}
    let held = true
    const store: AnonKeyStore = {
      ...base,
      loadRetired: async (project) => {
        if (!held) return base.loadRetired(project)
        await new Promise<void>((resolve) => { release = resolve })
        if (outcome === 'fails') throw new Error('connection reset')
        return base.loadRetired(project)
      }
    }
    const { app, revoked } = await appWithRetiredKeys(t, store)
    const waiting = useKey(app, revoked)
    await new Promise((resolve) => setTimeout(resolve, 10))
    await rotate(app, { gracePeriodHours: 1 })
    held = false
    release()
    // Its answer belonged to the old document: the request waits for the new document's retired keys.
    assertError(t, await waiting, 401, 'ANON_KEY_REVOKED')
    assertError(t, await useKey(app, revoked), 401, 'ANON_KEY_REVOKED')
  })
}

t.test('a retired-key load overtaken by a change twice answers the key as unknown; the next request knows it', async (t) => {
  const base = memoryStore()
  const releases: Array<() => void> = []
  let holding = true
  const store: AnonKeyStore = {
    ...base,
    loadRetired: async (project) => {
      if (holding) await new Promise<void>((resolve) => { releases.push(resolve) })
      return base.loadRetired(project)
    }
  }
  const { app, revoked } = await appWithRetiredKeys(t, store)
  const waiting = useKey(app, revoked)
  await eventually('the first load', () => releases.length === 1, 5000)
  await rotate(app, { gracePeriodHours: 1 })
  releases[0]()
  await eventually('the load made again', () => releases.length === 2, 5000)
  await rotate(app, { gracePeriodHours: 1 })
  holding = false
  releases[1]()
  assertError(t, await waiting, 401, 'AUTH_INVALID_CREDENTIALS')
  assertError(t, await useKey(app, revoked), 401, 'ANON_KEY_REVOKED')
})

t.test('a tenant\'s retired keys are its own: revoked for it, unknown for another tenant', async (t) => {
  const app = await startTenantApp(t)
  await app.inject({ url: '/api/metadata/anon-key', headers: tenantAdminHeaders('acme') })
  const old = (await app.inject({ url: '/api/metadata/anon-key', headers: tenantAdminHeaders('acme') })).json().anonKey
  await app.inject({ method: 'POST', url: '/api/secrets/anon-key/rotate', headers: { ...tenantAdminHeaders('acme'), 'content-type': 'application/json' }, payload: '{"gracePeriodHours":0}' })
  await app.inject({ url: '/api/metadata/anon-key', headers: tenantAdminHeaders('globex') })
  assertError(t, await useTenantKey(app, 'acme', old), 401, 'ANON_KEY_EXPIRED')
  assertError(t, await useTenantKey(app, 'globex', old), 401, 'AUTH_INVALID_CREDENTIALS')
  assertError(t, await useTenantKey(app, 'initech', old), 401, 'AUTH_INVALID_CREDENTIALS')
})

t.test('the list of previous keys lists only keys that verify, whatever was retired', async (t) => {
  const app = await startApp(t)
  await rotate(app, { gracePeriodHours: 0 })
  await rotate(app, { gracePeriodHours: 1 })
  await rotate(app, { gracePeriodHours: 1 })
  const [first] = (await app.inject({ url: '/api/secrets/anon-key/previous', headers: adminHeaders() })).json().previousKeys
  await app.inject({ method: 'DELETE', url: `/api/secrets/anon-key/previous/${first.fingerprint as string}`, headers: adminHeaders() })
  const listed = (await app.inject({ url: '/api/secrets/anon-key/previous', headers: adminHeaders() })).json().previousKeys
  t.equal(listed.length, 1, 'the expired and the revoked keys are not listed')
  t.not(listed[0].fingerprint, first.fingerprint)
})

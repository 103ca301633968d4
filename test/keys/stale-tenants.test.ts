import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import anonKey, { memoryStore, type AnonKeyStore } from '../../lib/index.js'
import type { ChangeListener } from '../../lib/stores/interface.js'
import { internalsOf, JWT_SECRET } from '../helpers/app.js'
import { countingStore } from '../helpers/counting-store.js'
import { eventually } from '../helpers/eventually.js'
import { isTenantAdmin, tenantFromHeader, useTenantKey } from '../helpers/tenants.js'

const TENANTS = Array.from({ length: 30 }, (_, index) => `tenant-${index}`)

/**
 * A memory store whose loads fail while `broken`, and whose listener the test calls itself, as a store that lost its
 * listening connection does with `listener(null)`.
 */
function cutStore (): { store: AnonKeyStore, writer: AnonKeyStore, missed: () => void, broken: (value: boolean) => void } {
  const inner = memoryStore()
  let listener: ChangeListener | null = null
  let broken = false
  const store: AnonKeyStore = {
    ...inner,
    load: (project) => broken ? Promise.reject(new Error('connect ECONNREFUSED')) : inner.load(project),
    subscribe: async (heard) => {
      listener = heard
      return async () => {}
    }
  }
  return { store, writer: inner, missed: () => { (listener as ChangeListener)(null) }, broken: (value) => { broken = value } }
}

/** A tenant app on `store` whose log lines (but the requests' own) are kept in `lines`. */
async function loggedApp (t: Test, store: AnonKeyStore, lines: Array<Record<string, any>>, cacheTtlMs = 60_000): Promise<FastifyInstance> {
  const keep = (line: string): void => {
    const parsed = JSON.parse(line)
    if (parsed.reqId === undefined) lines.push(parsed)
  }
  const app = Fastify({ logger: { level: 'info', stream: { write: keep } } })
  app.register(anonKey, { jwt: { secret: JWT_SECRET }, store, tenant: tenantFromHeader, isAdmin: isTenantAdmin, cacheTtlMs })
  app.get('/data', { onRequest: (request, reply, done) => app.verifyAnonKey(request, reply, done) }, async () => ({ ok: true }))
  t.teardown(() => app.close())
  await app.ready()
  return app
}

t.test('after changes may have been missed, no held tenant is reloaded at once; each is reloaded on its next use', async (t) => {
  const cut = cutStore()
  const counted = countingStore(cut.store)
  const app = await loggedApp(t, counted.store, [])
  const writer = await loggedApp(t, cut.writer, [])
  const keys = new Map<string, string>()
  for (const tenant of TENANTS) keys.set(tenant, (await writer.anonKey.forTenant(tenant).initialize()).anonKey)
  for (const tenant of TENANTS) {
    if ((await useTenantKey(app, tenant, keys.get(tenant) as string)).statusCode !== 200) t.fail(`${tenant}'s key was refused`)
  }
  await writer.anonKey.forTenant('tenant-3').rotate({ gracePeriodHours: 0 })
  counted.reset()
  cut.missed()
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(counted.count('load'), 0, 'nothing reloaded when the store says changes may have been missed')
  t.equal((await useTenantKey(app, 'tenant-3', keys.get('tenant-3') as string)).statusCode, 200, 'the first use verifies with the keys held')
  await eventually('the reload on that use to bring the rotation', async () => (await useTenantKey(app, 'tenant-3', keys.get('tenant-3') as string)).statusCode === 401, 5000)
  t.equal(counted.count('load'), 1, 'one load: the tenant used')
})

t.test('reloads that fail during an outage are logged once, and once more, with their count, when one works again', async (t) => {
  const cut = cutStore()
  const lines: Array<Record<string, any>> = []
  const app = await loggedApp(t, cut.store, lines)
  const writer = await loggedApp(t, cut.writer, [])
  const keys = new Map<string, string>()
  for (const tenant of TENANTS) keys.set(tenant, (await writer.anonKey.forTenant(tenant).initialize()).anonKey)
  const useAll = async (): Promise<number[]> =>
    Promise.all(TENANTS.map(async (tenant) => (await useTenantKey(app, tenant, keys.get(tenant) as string)).statusCode))
  t.same(new Set(await useAll()), new Set([200]))
  const before = lines.length
  cut.broken(true)
  cut.missed()
  t.same(new Set(await useAll()), new Set([200]), 'every held tenant verifies with its keys while its reload fails')
  await eventually('the failures to be logged', () => lines.length > before, 5000)
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.same(lines.slice(before).map((line) => line.msg), ['anon key store unreachable; verifying with the last known keys'], `one line for ${TENANTS.length} failed reloads`)
  cut.broken(false)
  cut.missed()
  await useAll()
  await eventually('the recovery to be logged', () => lines.length > before + 1, 5000)
  t.match(lines.slice(before + 1), [{ level: 30, failedReloads: TENANTS.length, msg: `anon key store reachable again, after ${TENANTS.length} failed reloads` }])
  await useAll()
  t.equal(lines.length, before + 2, 'nothing more')
})

t.test('a tenant that is not held is never reloaded', async (t) => {
  const counted = countingStore(memoryStore())
  const app = await loggedApp(t, counted.store, [])
  await internalsOf(app).refresh('nobody')
  t.equal(counted.count('load'), 0)
  t.equal(internalsOf(app).tenants?.has('nobody'), false)
})

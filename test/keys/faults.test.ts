import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { memoryStore, type AnonKeyStore } from '../../lib/index.js'
import { adminHeaders, bearer, buildApp, internalsOf } from '../helpers/app.js'
import { fakeDateNow, HOUR_MS } from '../helpers/clock.js'
import { faultyStore, type FaultMode, type FaultyStore, type StoreOperation } from '../helpers/faulty-store.js'
import { eventually } from '../helpers/eventually.js'

// Alone this file takes seconds; in the full suite on 2 shared cores it can pass tap's 30 s default.
t.setTimeout(120_000)

const STORE_TIMEOUT_MS = 200
/** A request that has not answered after this long is reported as hung (a bound, not a timing assertion). */
const HANG_BOUND_MS = 5000

const unhandled: unknown[] = []
const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
process.on('unhandledRejection', onUnhandled)

let faultsSurvived = 0
let adminAnswers = 0
let slowest503 = 0

interface Route { method: 'GET' | 'POST' | 'DELETE', url: string, uses: StoreOperation }
const ROUTES: Route[] = [
  { method: 'GET', url: '/api/metadata/anon-key', uses: 'load' },
  { method: 'POST', url: '/api/secrets/anon-key/rotate', uses: 'update' },
  { method: 'GET', url: '/api/secrets/anon-key/previous', uses: 'load' },
  { method: 'DELETE', url: '/api/secrets/anon-key/previous/0123456789ab', uses: 'update' },
  { method: 'DELETE', url: '/api/secrets/anon-key/previous', uses: 'update' }
]

async function start (t: Test, store: AnonKeyStore): Promise<FastifyInstance> {
  const app = buildApp({ store, storeTimeoutMs: STORE_TIMEOUT_MS, cacheTtlMs: 100 })
  t.teardown(() => app.close())
  await app.ready()
  return app
}

/** Sends an admin request, failing the test if it has not answered within HANG_BOUND_MS. */
async function adminRequest (app: FastifyInstance, route: Route): Promise<{ statusCode: number, body: any, ms: number }> {
  const started = performance.now()
  let timer: NodeJS.Timeout | undefined
  const hung = new Promise<never>((resolve, reject) => { timer = setTimeout(() => reject(new Error(`${route.method} ${route.url} hung`)), HANG_BOUND_MS) })
  const response = await Promise.race([app.inject({ method: route.method, url: route.url, headers: adminHeaders() }), hung]).finally(() => clearTimeout(timer))
  adminAnswers += 1
  return { statusCode: response.statusCode, body: response.json(), ms: performance.now() - started }
}

async function verifies (app: FastifyInstance, key: string): Promise<string> {
  const response = await app.inject({ url: '/data', headers: bearer(key) })
  return response.statusCode === 200 ? 'valid' : response.json().error
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

for (const operation of ['load', 'update'] as const) {
  for (const mode of ['fail', 'stall'] as const satisfies readonly FaultMode[]) {
    t.test(`when the store's ${operation} ${mode === 'fail' ? 'fails' : 'stalls'}, keys keep verifying, admin routes answer 503 in time, and all recovers`, async (t) => {
      const store = faultyStore(memoryStore())
      const app = await start(t, store)
      const oldKey = await app.anonKey.get() as string
      const { anonKey: current } = await app.anonKey.rotate({ gracePeriodHours: 1 })

      store.breakOn(operation, mode)
      // Every route that needs the broken operation, and the read-only ones (a write that works would change the keys).
      for (const route of ROUTES.filter((candidate) => candidate.uses === operation || candidate.method === 'GET')) {
        const answer = await adminRequest(app, route)
        if (route.uses === operation) {
          t.equal(answer.statusCode, 503, `${route.method} ${route.url}: ${JSON.stringify(answer.body)}`)
          t.same(answer.body, { error: 'STORE_UNAVAILABLE', message: answer.body.message, statusCode: 503, nextActions: answer.body.nextActions })
          slowest503 = Math.max(slowest503, answer.ms)
        } else {
          t.ok(answer.statusCode < 500, `${route.method} ${route.url} does not use ${operation}: ${answer.statusCode}`)
        }
      }
      await sleep(250) // the fallback reload (every 100 ms) meets the broken store too
      t.equal(await verifies(app, current), 'valid', 'the current key keeps verifying from the last known keys')
      t.equal(await verifies(app, oldKey), 'valid', 'the previous key keeps verifying within its grace')
      t.equal(await verifies(app, 'anon_' + 'e'.repeat(64)), 'AUTH_INVALID_CREDENTIALS', 'an unknown key is still refused')
      t.equal(internalsOf(app).single!.defaultKey, current, 'the cache still holds the last known current key')

      store.heal()
      faultsSurvived += 1
      for (const route of ROUTES.filter((candidate) => candidate.method === 'GET')) {
        t.equal((await adminRequest(app, route)).statusCode, 200, `${route.url} works again`)
      }
      const rotated = await adminRequest(app, ROUTES[1])
      t.equal(rotated.statusCode, 200, 'a rotation works again')
      t.equal(await verifies(app, rotated.body.anonKey), 'valid', 'the new key verifies')
      t.equal(await verifies(app, current), 'valid', 'the key before it is in its grace period')
    })
  }
}

t.test('while the store is down, a previous key still stops verifying at its expiresAt', async (t) => {
  const store = faultyStore(memoryStore())
  const app = await start(t, store)
  const oldKey = await app.anonKey.get() as string
  const clock = fakeDateNow(Date.now())
  t.teardown(() => clock.restore())
  const { anonKey: current } = await app.anonKey.rotate({ gracePeriodHours: 1 })
  store.breakOn('load', 'fail')
  clock.advance(HOUR_MS - 1)
  t.equal(await verifies(app, oldKey), 'valid', 'one millisecond before expiry')
  clock.advance(1)
  t.equal(await verifies(app, oldKey), 'ANON_KEY_EXPIRED', 'at expiry, with the store down')
  t.equal(await verifies(app, current), 'valid')
  faultsSurvived += 1
})

t.test('a change made elsewhere while this instance could not hear or load reaches it after the store heals, without a restart', async (t) => {
  const inner = memoryStore()
  const broken = faultyStore(inner)
  const app = await start(t, broken)
  const other = await start(t, inner)
  const before = await app.anonKey.get() as string
  broken.breakOn('notify', 'fail')
  broken.breakOn('load', 'stall')
  const { anonKey: next } = await other.anonKey.rotate({ gracePeriodHours: 1 })
  await sleep(250)
  t.equal(await verifies(app, before), 'valid', 'the last known key keeps verifying (it is in its grace period)')
  t.equal(await verifies(app, next), 'AUTH_INVALID_CREDENTIALS', 'the new key is not known here yet')
  broken.heal()
  await eventually('the instance learning the new key', async () => (await verifies(app, next)) === 'valid', 3000)
  t.pass('the fallback reload brought the new key after the store healed')
  faultsSurvived += 1
})

for (const operation of ['subscribe', 'update'] as const) {
  for (const mode of ['fail', 'stall'] as const satisfies readonly FaultMode[]) {
    t.test(`when the store's ${operation} ${mode === 'fail' ? 'fails' : 'stalls'} at start-up, ready() rejects with STORE_UNAVAILABLE, and a later start works`, async (t) => {
      const store: FaultyStore = faultyStore(memoryStore())
      store.breakOn(operation, mode)
      const app = buildApp({ store, storeTimeoutMs: STORE_TIMEOUT_MS })
      await t.rejects(async () => { await app.ready() }, { code: 'STORE_UNAVAILABLE', statusCode: 503 })
      await app.close().catch(() => {})
      store.heal()
      const again = await start(t, store)
      t.match(await again.anonKey.get(), /^anon_[0-9a-f]{64}$/, 'after the store heals, an instance starts and holds a key')
      faultsSurvived += 1
    })
  }
}

for (const mode of ['fail', 'stall'] as const satisfies readonly FaultMode[]) {
  t.test(`when unsubscribing ${mode === 'fail' ? 'fails' : 'stalls'}, app.close() still finishes`, async (t) => {
    const store = faultyStore(memoryStore())
    const app = buildApp({ store, storeTimeoutMs: STORE_TIMEOUT_MS })
    await app.ready()
    store.breakOn('unsubscribe', mode)
    let timer: NodeJS.Timeout | undefined
    const closed = await Promise.race([
      app.close().then(() => 'closed'),
      new Promise<string>((resolve) => { timer = setTimeout(() => resolve('hung'), HANG_BOUND_MS) })
    ]).finally(() => clearTimeout(timer))
    t.equal(closed, 'closed')
    faultsSurvived += 1
  })
}

t.test('when saving usage figures stalls, app.close() still finishes', async (t) => {
  const store = faultyStore(memoryStore())
  const app = buildApp({ store, storeTimeoutMs: STORE_TIMEOUT_MS })
  await app.ready()
  const oldKey = await app.anonKey.get() as string
  await app.anonKey.rotate({ gracePeriodHours: 1 })
  t.equal(await verifies(app, oldKey), 'valid', 'a request with the previous key is counted')
  const updatesBefore = store.calls.update
  store.breakOn('update', 'stall')
  let timer: NodeJS.Timeout | undefined
  const closed = await Promise.race([
    app.close().then(() => 'closed'),
    new Promise<string>((resolve) => { timer = setTimeout(() => resolve('hung'), HANG_BOUND_MS) })
  ]).finally(() => clearTimeout(timer))
  t.equal(closed, 'closed')
  t.ok(store.calls.update > updatesBefore, 'the figures were offered to the store')
  faultsSurvived += 1
})

t.test('no fault caused an unhandled rejection or a crash', async (t) => {
  await sleep(50)
  process.off('unhandledRejection', onUnhandled)
  t.same(unhandled.map(String), [], 'no unhandled rejection')
  t.comment(`${faultsSurvived} faults survived; ${adminAnswers} admin requests answered during and after them; slowest 503: ${Math.round(slowest503)} ms with storeTimeoutMs ${STORE_TIMEOUT_MS}`)
})

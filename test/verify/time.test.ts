import { mock } from 'node:test'
import t, { type Test } from 'tap'
import { memoryStore } from '../../lib/index.js'
import { RETIRED_RETENTION_MS } from '../../lib/stores/index.js'
import { bearer, internalsOf, rotate, startApp } from '../helpers/app.js'
import { CLOCK_START, HOUR_MS } from '../helpers/clock.js'
import { countingStore } from '../helpers/counting-store.js'

/** Date is faked (node's mock timers, Date only: timeouts keep real time) from CLOCK_START, restored at the end. */
function fakeDate (t: Test): void {
  mock.timers.enable({ apis: ['Date'], now: CLOCK_START })
  t.teardown(() => { mock.timers.reset() })
}

async function answer (app: Awaited<ReturnType<typeof startApp>>, key: string): Promise<string> {
  const response = await app.inject({ url: '/data', headers: bearer(key) })
  return response.statusCode === 200 ? 'valid' : `${response.statusCode} ${response.json().error}`
}

t.test('a cached previous key verifies until expiresAt - 1 ms and answers ANON_KEY_EXPIRED from expiresAt, without a reload', async (t) => {
  fakeDate(t)
  const { store, count } = countingStore(memoryStore())
  const loads = (): number => count('load')
  const app = await startApp(t, { store })
  const oldKey = await app.anonKey.get() as string
  const response = await rotate(app, { gracePeriodHours: 2 })
  const expiresAt = Date.parse(response.json().oldKeyExpiresAt)
  t.equal(expiresAt, CLOCK_START + 2 * HOUR_MS, 'the grace ends two hours after the rotation')
  t.equal(await answer(app, oldKey), 'valid', 'right after the rotation')

  const loadsBefore = loads()
  mock.timers.tick(2 * HOUR_MS - 1)
  t.equal(Date.now(), expiresAt - 1)
  const last = await app.inject({ url: '/data', headers: bearer(oldKey) })
  t.equal(last.statusCode, 200, 'at expiresAt - 1 ms the old key still verifies')
  t.equal(last.json().anonKey.expiresAt, new Date(expiresAt).toISOString(), 'and the request learns when it stops')
  mock.timers.tick(1)
  t.equal(await answer(app, oldKey), '401 ANON_KEY_EXPIRED', 'at expiresAt it is refused')
  t.same(await app.anonKey.verify(oldKey), { valid: false, code: 'ANON_KEY_EXPIRED' }, 'app.anonKey.verify agrees')
  t.equal(loads(), loadsBefore, 'the cache was not reloaded in between: expiry is judged at verification time')
  t.equal(await answer(app, response.json().anonKey), 'valid', 'the new key keeps verifying')
})

t.test('a rotation with a grace of 0 cuts the old key off in the same millisecond', async (t) => {
  fakeDate(t)
  const app = await startApp(t)
  const oldKey = await app.anonKey.get() as string
  const response = await rotate(app, { gracePeriodHours: 0 })
  t.equal(response.json().oldKeyExpiresAt, new Date(CLOCK_START).toISOString())
  t.equal(Date.now(), CLOCK_START, 'the clock has not moved')
  t.equal(await answer(app, oldKey), '401 ANON_KEY_EXPIRED')
})

t.test('another instance that cached the old key before the rotation also refuses it from expiresAt exactly', async (t) => {
  fakeDate(t)
  const shared = memoryStore()
  const { store, count } = countingStore(shared)
  const loads = (): number => count('load')
  const first = await startApp(t, { store: shared })
  const second = await startApp(t, { store })
  const oldKey = await first.anonKey.get() as string
  t.equal(await answer(second, oldKey), 'valid', 'the second instance knows the key')

  await rotate(first, { gracePeriodHours: 1 })
  for (let i = 0; i < 100 && internalsOf(second).single!.defaultKey === oldKey; i++) await new Promise((resolve) => setImmediate(resolve))
  t.not(internalsOf(second).single!.defaultKey, oldKey, 'the second instance heard of the rotation')
  const loadsBefore = loads()
  mock.timers.tick(HOUR_MS - 1)
  t.equal(await answer(second, oldKey), 'valid', 'at expiresAt - 1 ms')
  mock.timers.tick(1)
  t.equal(await answer(second, oldKey), '401 ANON_KEY_EXPIRED', 'at expiresAt')
  t.equal(loads(), loadsBefore, 'with no reload in between')
})

t.test('an expired key is recognised for 30 days after its expiry, then answers AUTH_INVALID_CREDENTIALS', async (t) => {
  fakeDate(t)
  const app = await startApp(t)
  const oldKey = await app.anonKey.get() as string
  await rotate(app, { gracePeriodHours: 1 })
  mock.timers.tick(HOUR_MS + RETIRED_RETENTION_MS - 1)
  t.equal(await answer(app, oldKey), '401 ANON_KEY_EXPIRED', 'one millisecond before the window ends')
  mock.timers.tick(1)
  t.equal(await answer(app, oldKey), '401 AUTH_INVALID_CREDENTIALS', 'when the window ends')
})

t.test('a revoked key is recognised for 30 days after its revocation, then answers AUTH_INVALID_CREDENTIALS', async (t) => {
  fakeDate(t)
  const app = await startApp(t)
  const oldKey = await app.anonKey.get() as string
  await rotate(app, { gracePeriodHours: 24 })
  mock.timers.tick(HOUR_MS)
  await app.anonKey.revokePrevious()
  t.equal(await answer(app, oldKey), '401 ANON_KEY_REVOKED', 'at once')
  mock.timers.tick(RETIRED_RETENTION_MS - 1)
  t.equal(await answer(app, oldKey), '401 ANON_KEY_REVOKED', 'one millisecond before the window ends')
  mock.timers.tick(1)
  t.equal(await answer(app, oldKey), '401 AUTH_INVALID_CREDENTIALS', 'when the window ends')
})

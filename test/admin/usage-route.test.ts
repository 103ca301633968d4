import t from 'tap'
import { memoryStore, type AnonKeyStore } from '../../lib/index.js'
import { fingerprintOf } from '../../lib/stores/index.js'
import { assertError, currentKey, internalsOf, listPrevious, revoke, rotate, startApp, useKey } from '../helpers/app.js'
import { eventually } from '../helpers/eventually.js'
import { CLOCK_START, fakeDateNow, HOUR_MS } from '../helpers/clock.js'
import { createNamedKey, useKeyFrom } from '../helpers/named-keys.js'
import { flush, usageOf, usageRequest } from '../helpers/usage.js'

const iso = (ms: number): string => new Date(ms).toISOString()

t.test('the usage route answers the contract\'s shape: the current key, each previous key, refused requests', async (t) => {
  const clock = fakeDateNow(CLOCK_START + 10 * HOUR_MS + 5 * 60_000)
  t.teardown(() => clock.restore())
  const app = await startApp(t)
  const oldKey = await currentKey(app)
  await rotate(app, { gracePeriodHours: 48 })
  const newKey = await currentKey(app)
  for (let i = 0; i < 3; i++) await useKey(app, newKey)
  await useKey(app, oldKey)
  const usage = await usageOf(app)
  t.same(Object.keys(usage).sort(), ['keys', 'name', 'refused'])
  t.equal(usage.name, 'default')
  t.same(usage.keys, [
    { fingerprint: fingerprintOf(newKey), role: 'current', rotatedAt: null, expiresAt: null, lastUsedAt: iso(clock.now()), requests24h: 3, hourly: [{ hour: iso(CLOCK_START + 10 * HOUR_MS), requests: 3 }] },
    {
      fingerprint: fingerprintOf(oldKey),
      role: 'previous',
      rotatedAt: iso(clock.now()),
      expiresAt: iso(clock.now() + 48 * HOUR_MS),
      lastUsedAt: iso(clock.now()),
      requests24h: 1,
      hourly: [{ hour: iso(CLOCK_START + 10 * HOUR_MS), requests: 1 }],
      safeToRevoke: false,
      graceStartsAt: 'rotation'
    }
  ], 'this instance\'s counts show before any flush, in the contract\'s shape')
  t.same(usage.refused, [])
})

t.test('requests fall into the UTC hour they are taken in, at the boundary to the millisecond; empty hours are left out', async (t) => {
  const clock = fakeDateNow(CLOCK_START + 10 * HOUR_MS)
  t.teardown(() => clock.restore())
  const app = await startApp(t)
  const key = await currentKey(app)
  clock.set(CLOCK_START + 11 * HOUR_MS - 1)
  await useKey(app, key)
  await useKey(app, key)
  await flush(app)
  clock.set(CLOCK_START + 11 * HOUR_MS)
  await useKey(app, key)
  await flush(app)
  clock.set(CLOCK_START + 14 * HOUR_MS + 30 * 60_000)
  await useKey(app, key)
  const [current] = (await usageOf(app)).keys
  t.same(current.hourly, [
    { hour: iso(CLOCK_START + 10 * HOUR_MS), requests: 2 },
    { hour: iso(CLOCK_START + 11 * HOUR_MS), requests: 1 },
    { hour: iso(CLOCK_START + 14 * HOUR_MS), requests: 1 }
  ])
  t.equal(current.requests24h, 4)
  t.equal(current.lastUsedAt, iso(CLOCK_START + 14 * HOUR_MS + 30 * 60_000))
})

t.test('at the end of every hour the counts are closed into it, with no flush', async (t) => {
  const hourEnd = CLOCK_START + 11 * HOUR_MS
  // The plugin's timer for the hour's end is due 5 s (real time) after it starts: time enough for one request.
  const clock = fakeDateNow(hourEnd - 5000)
  t.teardown(() => clock.restore())
  const app = await startApp(t)
  const key = await currentKey(app)
  await useKey(app, key)
  const hourOfCounts = (): number | undefined => internalsOf(app).unreported('')?.unreported(hourEnd + HOUR_MS / 2).verified[0]?.hour
  t.equal(hourOfCounts(), hourEnd, 'before the hour\'s end, the request is not put in any hour yet')
  await eventually('the hour to be closed', () => hourOfCounts() === hourEnd - HOUR_MS, 20_000)
  clock.set(hourEnd + 30 * 60_000)
  await useKey(app, key)
  const [current] = (await usageOf(app)).keys
  t.same(current.hourly, [{ hour: iso(hourEnd - HOUR_MS), requests: 1 }, { hour: iso(hourEnd), requests: 1 }], 'each request in its own hour')
  t.equal(current.lastUsedAt, iso(hourEnd + 30 * 60_000))
})

t.test('hours older than 7 days leave the answer and the store; requests24h counts the last 24 hours only', async (t) => {
  const clock = fakeDateNow(CLOCK_START)
  t.teardown(() => clock.restore())
  const store = memoryStore()
  const app = await startApp(t, { store })
  const key = await currentKey(app)
  await useKey(app, key)
  await flush(app)
  clock.advance(7 * 24 * HOUR_MS - HOUR_MS)
  await useKey(app, key)
  await flush(app)
  let current = (await usageOf(app)).keys[0]
  t.equal(current.hourly.length, 2, 'an hour 6 days and 23 hours old is still shown')
  t.equal(current.requests24h, 1, 'the request of 7 days ago is not in requests24h')
  clock.advance(HOUR_MS)
  current = (await usageOf(app)).keys[0]
  t.same(current.hourly, [{ hour: iso(CLOCK_START + 7 * 24 * HOUR_MS - HOUR_MS), requests: 1 }], 'the hour 7 days old left the answer')
  await useKey(app, key)
  await flush(app)
  t.same((await store.loadUsage?.(''))?.verified.map((row) => row.hour), [CLOCK_START + 7 * 24 * HOUR_MS - HOUR_MS, CLOCK_START + 7 * 24 * HOUR_MS], 'the store forgot the hour 7 days old at the next batch')
})

t.test('refused requests that carried a known dead key are counted per hour, code and fingerprint', async (t) => {
  const clock = fakeDateNow(CLOCK_START)
  t.teardown(() => clock.restore())
  const app = await startApp(t)
  const first = await currentKey(app)
  await rotate(app, { gracePeriodHours: 0 })
  const expired = await currentKey(app)
  await rotate(app, { gracePeriodHours: 0 })
  const revoked = await currentKey(app)
  await rotate(app, { gracePeriodHours: 1 })
  t.equal((await revoke(app)).statusCode, 200)
  for (let i = 0; i < 2; i++) t.equal((await useKey(app, expired)).json().error, 'ANON_KEY_EXPIRED')
  t.equal((await useKey(app, first)).json().error, 'ANON_KEY_EXPIRED')
  t.equal((await useKey(app, revoked)).json().error, 'ANON_KEY_REVOKED')
  t.equal((await useKey(app, 'anon_' + '0'.repeat(64))).statusCode, 401, 'an unknown key is refused')
  t.equal((await app.anonKey.verify(expired)).valid, false)
  const hour = iso(CLOCK_START)
  const expiredRows = [
    { hour, code: 'ANON_KEY_EXPIRED', fingerprint: fingerprintOf(expired), requests: 3 },
    { hour, code: 'ANON_KEY_EXPIRED', fingerprint: fingerprintOf(first), requests: 1 }
  ].sort((a, b) => a.fingerprint.localeCompare(b.fingerprint))
  t.same((await usageOf(app)).refused, [...expiredRows, { hour, code: 'ANON_KEY_REVOKED', fingerprint: fingerprintOf(revoked), requests: 1 }],
    'refusals of known keys are counted (verify() too), by hour, code and fingerprint; an unknown key is not')
})

t.test('a previous key past its grace leaves the keys, and its refused requests show', async (t) => {
  const clock = fakeDateNow(CLOCK_START)
  t.teardown(() => clock.restore())
  const app = await startApp(t)
  const oldKey = await currentKey(app)
  await rotate(app, { gracePeriodHours: 1 })
  t.equal((await useKey(app, oldKey)).statusCode, 200)
  await flush(app)
  clock.advance(2 * HOUR_MS)
  assertError(t, await useKey(app, oldKey), 401, 'ANON_KEY_EXPIRED')
  const usage = await usageOf(app)
  t.same(usage.keys.map((key: any) => key.role), ['current'], 'the expired key is not listed among the keys')
  t.same(usage.refused, [{ hour: iso(CLOCK_START + 2 * HOUR_MS), code: 'ANON_KEY_EXPIRED', fingerprint: fingerprintOf(oldKey), requests: 1 }])
})

t.test('a named key\'s usage: its own keys, and its requests refused for their origin', async (t) => {
  const clock = fakeDateNow(CLOCK_START)
  t.teardown(() => clock.restore())
  const app = await startApp(t)
  const web = await createNamedKey(app, { name: 'web', allowedOrigins: ['https://app.example.com'] })
  t.equal((await useKeyFrom(app, web.anonKey, { origin: 'https://app.example.com' })).statusCode, 200)
  t.equal((await useKeyFrom(app, web.anonKey, { origin: 'https://evil.example' })).statusCode, 403)
  await useKey(app, await currentKey(app))
  const usage = await usageOf(app, 'web')
  t.equal(usage.name, 'web')
  t.same(usage.keys.map((key: any) => [key.fingerprint, key.role, key.requests24h]), [[web.fingerprint, 'current', 1]], 'only the key of this name, not default\'s')
  t.same(usage.refused, [{ hour: iso(CLOCK_START), code: 'ANON_KEY_ORIGIN_NOT_ALLOWED', fingerprint: web.fingerprint, requests: 1 }])
  t.same((await usageOf(app)).refused, [], 'default\'s usage does not show the refusals of web')
})

t.test('an unknown name answers 404 NOT_FOUND, a bad name 400 INVALID_INPUT, both in the contract\'s format', async (t) => {
  const app = await startApp(t)
  assertError(t, await usageRequest(app, 'ios'), 404, 'NOT_FOUND')
  assertError(t, await usageRequest(app, 'Not-A-Name'), 400, 'INVALID_INPUT')
  assertError(t, await usageRequest(app, 'web', {}), 401, 'AUTH_INVALID_CREDENTIALS')
})

t.test('a store without recordUsage and loadUsage answers 501 NOT_IMPLEMENTED naming them, and still sums previous-key totals in its document', async (t) => {
  const inner = memoryStore()
  const { recordUsage, loadUsage, ...withoutHistory } = inner
  const store: AnonKeyStore = { ...withoutHistory, namespace: inner.namespace }
  const app = await startApp(t, { store })
  const response = await usageRequest(app)
  assertError(t, response, 501, 'NOT_IMPLEMENTED')
  t.match(response.json().message, /recordUsage\(\) and loadUsage\(\)/, 'the message names the missing methods')
  const oldKey = await currentKey(app)
  await rotate(app, { gracePeriodHours: 1 })
  await useKey(app, oldKey)
  await flush(app)
  const document = await inner.load('')
  t.equal(document.state.keys[0].previousKeys[0].requests, 1, 'the previous key\'s total went to the document')
  t.equal((await listPrevious(app) as any[])[0].requests, 1)
  t.equal((await inner.loadUsage?.(''))?.verified.length, 0)
  const onlyLoad: AnonKeyStore = { ...withoutHistory, namespace: inner.namespace, loadUsage }
  const other = await startApp(t, { store: onlyLoad })
  t.match((await usageRequest(other)).json().message, /no recordUsage\(\) method\./, 'one missing method is named alone')
  const onlyRecord: AnonKeyStore = { ...withoutHistory, namespace: inner.namespace, recordUsage }
  const third = await startApp(t, { store: onlyRecord })
  t.match((await usageRequest(third)).json().message, /no loadUsage\(\) method\./, 'the other one too')
})

t.test('random keys and tenants leave nothing to count: a flood of unknown keys writes no usage', async (t) => {
  const store = memoryStore()
  const app = await startApp(t, { store })
  for (let i = 0; i < 200; i++) await useKey(app, `anon_${i.toString(16).padStart(64, '0')}`)
  await flush(app)
  t.same(await store.loadUsage?.(''), { verified: [], refused: [], keys: [] })
})

t.test('a store down during a flush keeps the figures, and the next flush writes them once', async (t) => {
  const clock = fakeDateNow(CLOCK_START)
  t.teardown(() => clock.restore())
  const inner = memoryStore()
  let down = false
  const store: AnonKeyStore = {
    ...inner,
    namespace: inner.namespace,
    recordUsage: async (project, batch) => {
      if (down) throw new Error('store down')
      return inner.recordUsage?.(project, batch)
    }
  }
  const app = await startApp(t, { store })
  const reader = await startApp(t, { store: inner })
  const key = await currentKey(app)
  down = true
  await useKey(app, key)
  await useKey(app, key)
  await flush(app)
  t.same((await usageOf(reader)).keys[0].hourly, [], 'nothing reached the store while it was down')
  t.equal((await usageOf(app)).keys[0].requests24h, 2, 'the counting instance still shows its counts')
  down = false
  clock.advance(HOUR_MS)
  await useKey(app, key)
  await flush(app)
  await flush(app)
  t.same((await usageOf(reader)).keys[0].hourly, [{ hour: iso(CLOCK_START), requests: 2 }, { hour: iso(CLOCK_START + HOUR_MS), requests: 1 }], 'the kept counts landed once, in their own hour')
})

t.test('usage() of a project without keys says the key is not initialized, and of an unknown name that it is unknown', async (t) => {
  const app = await startApp(t, { autoInitialize: false })
  await t.rejects(app.anonKey.usage(), { code: 'ANON_KEY_NOT_INITIALIZED' })
  await t.rejects(app.anonKey.usage({ name: 'web' }), { code: 'NOT_FOUND' })
})

import Fastify from 'fastify'
import t from 'tap'
import anonKey, { memoryStore, type AnonKeyStore, type FirstUsedEvent } from '../../lib/index.js'
import { assertError, currentKey, internalsOf, JWT_SECRET, listPrevious, rotate, startApp, useKey } from '../helpers/app.js'
import { CLOCK_START, fakeDateNow, HOUR_MS } from '../helpers/clock.js'
import { eventually } from '../helpers/eventually.js'
import { createNamedKey, keysRequest } from '../helpers/named-keys.js'
import { usageOf } from '../helpers/usage.js'

const iso = (ms: number): string => new Date(ms).toISOString()

t.test('with graceStartsAt first-use, the old key verifies until gracePeriodHours after the new key\'s first use', async (t) => {
  const clock = fakeDateNow(CLOCK_START)
  t.teardown(() => clock.restore())
  const app = await startApp(t)
  const events: FirstUsedEvent[] = []
  app.anonKey.on('firstUsed', (event) => { events.push(event) })
  const oldKey = await currentKey(app)
  const response = await rotate(app, { gracePeriodHours: 24, graceStartsAt: 'first-use' })
  t.equal(response.statusCode, 200)
  t.same(Object.keys(response.json()).sort(), ['anonKey', 'message', 'oldKeyExpiresAt', 'success'], 'the rotate answer keeps its four fields')
  t.equal(response.json().oldKeyExpiresAt, iso(CLOCK_START + 720 * HOUR_MS), 'oldKeyExpiresAt is the latest possible expiry: rotation + maxGracePeriodHours')
  let [previous] = await listPrevious(app) as any[]
  t.same([previous.expiresAt, previous.graceStartsAt], [iso(CLOCK_START + 720 * HOUR_MS), 'first-use'], 'before the first use the listing shows the latest bound')
  clock.advance(100 * HOUR_MS)
  t.equal((await useKey(app, oldKey)).statusCode, 200, 'the new key unused, the old key still verifies after more than gracePeriodHours')
  const firstUse = clock.now()
  t.equal((await useKey(app, response.json().anonKey)).statusCode, 200)
  await eventually('the first use to be recorded', () => events.length === 1, 5000)
  t.same(events[0], {
    name: 'default',
    actor: null,
    fingerprint: events[0].fingerprint,
    firstUsedAt: iso(firstUse),
    graceStarted: [{ fingerprint: previous.fingerprint, expiresAt: iso(firstUse + 24 * HOUR_MS) }]
  }, 'a firstUsed event names the key and the grace it started')
  ;[previous] = await listPrevious(app) as any[]
  t.same([previous.expiresAt, previous.graceStartsAt], [iso(firstUse + 24 * HOUR_MS), 'first-use'], 'the listing shows the bound the first use set')
  t.equal((await usageOf(app)).keys[1].expiresAt, iso(firstUse + 24 * HOUR_MS), 'the usage route shows it too')
  clock.set(firstUse + 24 * HOUR_MS - 1)
  const last = await useKey(app, oldKey)
  t.equal(last.statusCode, 200)
  t.equal(last.headers['anon-key-expires-at'], iso(firstUse + 24 * HOUR_MS), 'Anon-Key-Expires-At tells the client the bound now')
  clock.advance(1)
  assertError(t, await useKey(app, oldKey), 401, 'ANON_KEY_EXPIRED')
  t.same(await app.anonKey.verify(oldKey), { valid: false, code: 'ANON_KEY_EXPIRED' }, 'verify() judges alike')
  await useKey(app, response.json().anonKey)
  t.equal(events.length, 1, 'the first use is recorded once')
})

t.test('a new key never used: the old key verifies until maxGracePeriodHours after the rotation', async (t) => {
  const clock = fakeDateNow(CLOCK_START)
  t.teardown(() => clock.restore())
  const app = await startApp(t, { maxGracePeriodHours: 48, defaultGracePeriodHours: 1 })
  const oldKey = await currentKey(app)
  await rotate(app, { graceStartsAt: 'first-use' })
  clock.advance(48 * HOUR_MS - 1)
  t.equal((await useKey(app, oldKey)).statusCode, 200)
  clock.advance(1)
  assertError(t, await useKey(app, oldKey), 401, 'ANON_KEY_EXPIRED')
})

t.test('a rotation before the new key was used starts the waiting grace at that rotation', async (t) => {
  const clock = fakeDateNow(CLOCK_START)
  t.teardown(() => clock.restore())
  const app = await startApp(t)
  const first = await currentKey(app)
  await rotate(app, { gracePeriodHours: 10, graceStartsAt: 'first-use' })
  clock.advance(5 * HOUR_MS)
  await rotate(app, { gracePeriodHours: 10 })
  const listed = await listPrevious(app) as any[]
  t.same(listed.map((key) => key.expiresAt), [iso(CLOCK_START + 15 * HOUR_MS), iso(CLOCK_START + 15 * HOUR_MS)], 'the first key\'s grace started at the second rotation')
  clock.advance(10 * HOUR_MS)
  assertError(t, await useKey(app, first), 401, 'ANON_KEY_EXPIRED')
})

t.test('the new key first used on another instance starts the grace on every instance, and is written once', async (t) => {
  const clock = fakeDateNow(CLOCK_START)
  t.teardown(() => clock.restore())
  const store = memoryStore()
  let updates = 0
  const counted: AnonKeyStore = {
    ...store,
    namespace: store.namespace,
    update (project, change) {
      updates += 1
      return store.update(project, change)
    }
  }
  const one = await startApp(t, { store: counted })
  const other = await startApp(t, { store: counted })
  const events: string[] = []
  for (const app of [one, other]) app.anonKey.on('firstUsed', (event) => { events.push(event.firstUsedAt) })
  const oldKey = await currentKey(one)
  const { anonKey } = (await rotate(one, { gracePeriodHours: 2, graceStartsAt: 'first-use' })).json()
  await internalsOf(other).refresh()
  updates = 0
  await Promise.all([useKey(one, anonKey), useKey(other, anonKey), useKey(one, anonKey), useKey(other, anonKey)])
  await eventually('the first use to be recorded', async () => (await store.load('')).state.keys[0].currentKeyFirstUsedAt !== null && updates >= 2, 5000)
  t.equal(events.length, 1, 'one firstUsed event across both instances')
  t.equal((await store.load('')).version, 3, 'the first use was written once: initialize, rotate, first use')
  clock.advance(2 * HOUR_MS)
  for (const app of [one, other]) assertError(t, await useKey(app, oldKey), 401, 'ANON_KEY_EXPIRED')
})

t.test('graceStartsAt is checked: only "rotation" or "first-use", on both rotate routes and in the API', async (t) => {
  const app = await startApp(t)
  const before = await currentKey(app)
  for (const value of ['later', null, 1, 'First-Use']) {
    const response = await rotate(app, { graceStartsAt: value })
    assertError(t, response, 400, 'INVALID_INPUT')
    t.match(response.json().message, /graceStartsAt must be "rotation" or "first-use"/)
  }
  t.equal(await currentKey(app), before, 'nothing was rotated')
  await createNamedKey(app, { name: 'ios' })
  const named = await keysRequest(app, 'POST', '/ios/rotate', { gracePeriodHours: 1, graceStartsAt: 'first-use' })
  t.equal(named.statusCode, 200, named.body)
  t.equal((await keysRequest(app, 'GET', '/ios')).json().previousKeys[0].graceStartsAt, 'first-use')
  await t.rejects(app.anonKey.rotate({ graceStartsAt: 'soon' as any }), { code: 'INVALID_INPUT' })
  t.equal(((await listPrevious(app)) as any[]).length, 0)
  await rotate(app)
  t.equal(((await listPrevious(app)) as any[])[0].graceStartsAt, 'rotation', 'the default grace starts at the rotation')
})

t.test('a first use the store could not take is logged, and the key\'s next request records it', async (t) => {
  const clock = fakeDateNow(CLOCK_START)
  t.teardown(() => clock.restore())
  const inner = memoryStore()
  let failing = false
  const store: AnonKeyStore = {
    ...inner,
    namespace: inner.namespace,
    update (project, change) {
      return failing ? Promise.reject(new Error('store down')) : inner.update(project, change)
    }
  }
  const lines: any[] = []
  const app = Fastify({ logger: { level: 'warn', stream: { write: (line: string) => { lines.push(JSON.parse(line)) } } } })
  t.teardown(() => app.close())
  app.register(anonKey, { jwt: { secret: JWT_SECRET }, store })
  app.register(async (guarded) => {
    guarded.addHook('onRequest', guarded.verifyAnonKey)
    guarded.get('/data', async () => 'ok')
  })
  await app.ready()
  const events: FirstUsedEvent[] = []
  app.anonKey.on('firstUsed', (event) => { events.push(event) })
  const { anonKey: newKey } = await app.anonKey.rotate({ gracePeriodHours: 2, graceStartsAt: 'first-use' })
  failing = true
  t.equal((await useKey(app, newKey)).statusCode, 200, 'the request does not wait for the write')
  await eventually('the failed write to be logged', () => lines.some((line) => line.msg === 'anon key first use not recorded; the next request with the key tries again'), 5000)
  t.same(events, [], 'nothing was recorded')
  failing = false
  clock.advance(HOUR_MS)
  t.equal((await useKey(app, newKey)).statusCode, 200)
  await eventually('the first use to be recorded', () => events.length === 1, 5000)
  t.equal(events[0].firstUsedAt, iso(CLOCK_START + HOUR_MS), 'the first use recorded is the request that reached the store')
  t.equal((await inner.load('')).state.keys[0].currentKeyFirstUsedAt, CLOCK_START + HOUR_MS)
})

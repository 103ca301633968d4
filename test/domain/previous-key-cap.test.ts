import Fastify from 'fastify'
import t from 'tap'
import { adminHeaders, assertError, JWT_SECRET, listPrevious, rotate, startApp, useKey } from '../helpers/app.js'
import anonKey, { memoryStore, type RotatedEvent } from '../../lib/index.js'
import { fingerprintOf } from '../../lib/stores/index.js'
import type { PreviousKeyRecord } from '../../lib/stores/index.js'
import { capPreviousKeys, DEFAULT_MAX_PREVIOUS_KEYS } from '../../lib/domain/previous-key-cap.js'

const HOUR = 3_600_000
const NOW = Date.UTC(2030, 0, 1)

function record (n: number, overrides: Partial<PreviousKeyRecord> = {}): PreviousKeyRecord {
  return { digest: n.toString(16).padStart(64, '0'), rotatedAt: NOW - n * 1000, expiresAt: NOW + HOUR, revokedAt: null, ...overrides }
}

t.test('capPreviousKeys: within the cap nothing changes', async (t) => {
  const records = [record(1), record(2)]
  const { records: kept, evicted } = capPreviousKeys(records, NOW, 2)
  t.same(kept, records)
  t.same(evicted, [])
  t.not(kept, records, 'a new array, the input untouched')
})

t.test('capPreviousKeys: beyond the cap the oldest rotations are revoked at now, in place, the input untouched', async (t) => {
  const records = [record(3), record(1), record(2), record(4)]
  const { records: capped, evicted } = capPreviousKeys(records, NOW, 2)
  t.same(evicted.map((r) => r.digest), [record(3).digest, record(4).digest])
  t.ok(evicted.every((r) => r.revokedAt === NOW))
  t.same(capped.map((r) => r.revokedAt), [NOW, null, null, NOW], 'order kept, the two oldest revoked')
  t.ok(records.every((r) => r.revokedAt === null), 'the input records are not mutated')
})

t.test('capPreviousKeys: keys that no longer verify neither count nor get revoked again', async (t) => {
  const expired = record(5, { expiresAt: NOW - 1 })
  const revoked = record(6, { revokedAt: NOW - 10 })
  const { records: capped, evicted } = capPreviousKeys([record(1), expired, revoked, record(2)], NOW, 2)
  t.same(evicted, [])
  t.same(capped, [record(1), expired, revoked, record(2)])
})

t.test('the default cap is 100 previous keys', async (t) => {
  t.equal(DEFAULT_MAX_PREVIOUS_KEYS, 100)
})

t.test('with maxPreviousKeys 3, a fourth rotation revokes the oldest previous key: listed no more, ANON_KEY_REVOKED, named in the event and the log', async (t) => {
  const lines: any[] = []
  const app = Fastify({ logger: { stream: { write: (line: string) => { lines.push(JSON.parse(line)) } } } })
  t.teardown(() => app.close())
  app.register(anonKey, { jwt: { secret: JWT_SECRET }, maxPreviousKeys: 3 })
  app.register(async (guarded) => {
    guarded.addHook('onRequest', guarded.verifyAnonKey)
    guarded.get('/data', async () => ({ ok: true }))
  })
  await app.ready()
  const events: RotatedEvent[] = []
  app.anonKey.on('rotated', (event) => { events.push(event) })
  const first = await app.anonKey.get() as string
  const answers = []
  for (let i = 0; i < 4; i++) answers.push(await rotate(app, { gracePeriodHours: 720 }))
  for (const answer of answers) {
    t.equal(answer.statusCode, 200, 'a rotation is never refused for the cap')
    t.same(Object.keys(answer.json()).sort(), ['anonKey', 'message', 'oldKeyExpiresAt', 'success'], 'the rotate answer keeps exactly its four fields')
  }
  t.same(events.map((event) => event.evictedFingerprints), [[], [], [], [fingerprintOf(first)]])
  const logLine = lines.find((line) => line.msg === 'anon key rotated' && line.evictedFingerprints.length === 1)
  t.same(logLine?.evictedFingerprints, [fingerprintOf(first)], 'the log names the evicted key by fingerprint')
  t.notMatch(JSON.stringify(lines), /anon_[0-9a-f]{64}/, 'and never a whole key')
  const listed = await listPrevious(app)
  t.equal(listed.length, 3)
  t.notOk(listed.some((entry) => entry.fingerprint === fingerprintOf(first)))
  assertError(t, await useKey(app, first), 401, 'ANON_KEY_REVOKED')
  t.equal((await useKey(app, answers[0].json().anonKey)).statusCode, 200, 'the kept previous keys still verify')
})

t.test('many rotations keep at most maxPreviousKeys valid, and the list stays that long', async (t) => {
  const app = await startApp(t, { maxPreviousKeys: 5 })
  for (let i = 0; i < 30; i++) await app.anonKey.rotate({ gracePeriodHours: 720 })
  t.equal((await app.anonKey.listPrevious()).length, 5)
  const response = await app.inject({ url: '/api/secrets/anon-key/previous', headers: adminHeaders() })
  t.equal(response.json().previousKeys.length, 5)
})

t.test('a rotation that revokes several previous keys names them oldest rotation first, in the event and the log', async (t) => {
  const store = memoryStore()
  const generous = await startApp(t, { store, maxPreviousKeys: 10 })
  const keys = [await generous.anonKey.get() as string]
  for (let i = 0; i < 4; i++) keys.push((await generous.anonKey.rotate({ gracePeriodHours: 720 })).anonKey)
  // Another instance on the same store with a lower cap: its next rotation leaves 5 valid previous keys for 2 places.
  const lines: any[] = []
  const strict = Fastify({ logger: { stream: { write: (line: string) => { lines.push(JSON.parse(line)) } } } })
  t.teardown(() => strict.close())
  strict.register(anonKey, { jwt: { secret: JWT_SECRET }, store, maxPreviousKeys: 2 })
  await strict.ready()
  const events: RotatedEvent[] = []
  strict.anonKey.on('rotated', (event) => { events.push(event) })
  await strict.anonKey.rotate({ gracePeriodHours: 720 })
  const oldestFirst = keys.slice(0, 3).map((key) => fingerprintOf(key))
  t.same(events[0].evictedFingerprints, oldestFirst, 'the first key, then the second, then the third')
  t.same(lines.find((line) => line.msg === 'anon key rotated')?.evictedFingerprints, oldestFirst)
  t.same((await strict.anonKey.listPrevious()).map((entry) => entry.fingerprint), [fingerprintOf(keys[4]), fingerprintOf(keys[3])], 'the two newest stay, newest first')
})

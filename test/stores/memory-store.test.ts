import t from 'tap'
import { memoryStore } from '../../lib/index.js'
import { digestOf, fingerprintOf, generateAnonKey } from '../../lib/stores/index.js'
import { RETIRED_RECORD_LIMIT, RETIRED_RETENTION_MS } from '../../lib/stores/index.js'
import { keyHandle } from '../../lib/conformance/index.js'

const HOUR_MS = 3_600_000

t.test('an empty memoryStore holds no key, and rotate or revoke change nothing', async (t) => {
  const store = memoryStore()
  t.same(await keyHandle(store).load(), { version: 0, currentKey: null, previousKeys: [] })
  t.equal(await keyHandle(store).rotate({ newKey: generateAnonKey(), now: Date.now(), expiresAt: Date.now() }), null)
  t.same((await keyHandle(store).revoke({ now: Date.now() })).revoked, [])
  t.equal((await keyHandle(store).load()).version, 0, 'nothing changed')
})

t.test('initialize stores the first key only; a later candidate loses', async (t) => {
  const store = memoryStore()
  const first = generateAnonKey()
  t.equal((await keyHandle(store).initialize(first)).currentKey, first)
  const again = await keyHandle(store).initialize(generateAnonKey())
  t.equal(again.currentKey, first)
  t.equal(again.version, 1, 'a losing initialize is not a change')
})

t.test('rotate keeps the old key only as its SHA-256 digest', async (t) => {
  const store = memoryStore()
  const old = generateAnonKey()
  const next = generateAnonKey()
  await keyHandle(store).initialize(old)
  const now = Date.now()
  const outcome = await keyHandle(store).rotate({ newKey: next, now, expiresAt: now + HOUR_MS })
  t.same(outcome?.retired, { digest: digestOf(old), rotatedAt: now, expiresAt: now + HOUR_MS, revokedAt: null })
  t.equal(outcome?.snapshot.currentKey, next)
  const raw = JSON.stringify(await keyHandle(store).load())
  t.notOk(raw.includes(old), 'the old key is nowhere in the store')
  t.ok(raw.includes(digestOf(old)))
})

t.test('the version grows with every change and snapshots are copies', async (t) => {
  const store = memoryStore()
  await keyHandle(store).initialize(generateAnonKey())
  await keyHandle(store).rotate({ newKey: generateAnonKey(), now: Date.now(), expiresAt: Date.now() + HOUR_MS })
  const snapshot = await keyHandle(store).load()
  t.equal(snapshot.version, 2)
  snapshot.previousKeys[0].revokedAt = 1
  snapshot.previousKeys.length = 0
  t.equal((await keyHandle(store).load()).previousKeys[0].revokedAt, null, 'changing a snapshot does not change the store')
})

t.test('revoke by fingerprint revokes only that previous key, and only while it verifies', async (t) => {
  const store = memoryStore()
  const keys = [generateAnonKey(), generateAnonKey(), generateAnonKey()]
  await keyHandle(store).initialize(keys[0])
  const now = Date.now()
  await keyHandle(store).rotate({ newKey: keys[1], now, expiresAt: now + HOUR_MS })
  await keyHandle(store).rotate({ newKey: keys[2], now: now + 1, expiresAt: now + HOUR_MS })
  const outcome = await keyHandle(store).revoke({ now: now + 2, fingerprint: fingerprintOf(keys[0]) })
  t.same(outcome.revoked.map((record) => record.digest), [digestOf(keys[0])])
  t.equal(outcome.revoked[0].revokedAt, now + 2)
  t.same((await keyHandle(store).revoke({ now: now + 3, fingerprint: fingerprintOf(keys[0]) })).revoked, [], 'a revoked key is not revoked twice')
  t.same((await keyHandle(store).revoke({ now: now + HOUR_MS, fingerprint: fingerprintOf(keys[1]) })).revoked, [], 'an expired key is not revoked')
})

t.test('revoke without a fingerprint revokes every previous key that still verifies', async (t) => {
  const store = memoryStore()
  await keyHandle(store).initialize(generateAnonKey())
  const now = Date.now()
  await keyHandle(store).rotate({ newKey: generateAnonKey(), now, expiresAt: now }) // expired at once
  await keyHandle(store).rotate({ newKey: generateAnonKey(), now, expiresAt: now + HOUR_MS })
  await keyHandle(store).rotate({ newKey: generateAnonKey(), now, expiresAt: now + 2 * HOUR_MS })
  const outcome = await keyHandle(store).revoke({ now: now + 1 })
  t.equal(outcome.revoked.length, 2)
  t.same(outcome.snapshot.previousKeys, [], 'no key that stopped verifying stays in the document')
  t.same((await keyHandle(store).retired()).map((record) => record.revokedAt), [now + 1, now + 1, null], 'the revoked and the expired keys stay on record')
})

t.test('subscribers hear every change, until they unsubscribe or the store closes', async (t) => {
  const store = memoryStore()
  let heardA = 0
  let heardB = 0
  const stopA = await store.subscribe(() => { heardA += 1 })
  await store.subscribe(() => { heardB += 1 })
  await keyHandle(store).initialize(generateAnonKey())
  await keyHandle(store).rotate({ newKey: generateAnonKey(), now: Date.now(), expiresAt: Date.now() })
  await new Promise((resolve) => setImmediate(resolve))
  t.same([heardA, heardB], [2, 2])
  await stopA()
  await keyHandle(store).rotate({ newKey: generateAnonKey(), now: Date.now(), expiresAt: Date.now() })
  await new Promise((resolve) => setImmediate(resolve))
  t.same([heardA, heardB], [2, 3], 'an unsubscribed listener hears nothing more')
  await store.close()
  await keyHandle(store).rotate({ newKey: generateAnonKey(), now: Date.now(), expiresAt: Date.now() })
  await new Promise((resolve) => setImmediate(resolve))
  t.same([heardA, heardB], [2, 3], 'after close nobody is called')
})

t.test('a previous key retired 30 days ago is pruned at the next change', async (t) => {
  const store = memoryStore()
  await keyHandle(store).initialize(generateAnonKey())
  const start = Date.now()
  await keyHandle(store).rotate({ newKey: generateAnonKey(), now: start, expiresAt: start + HOUR_MS })
  await keyHandle(store).rotate({
    newKey: generateAnonKey(),
    now: start + HOUR_MS + RETIRED_RETENTION_MS - 1,
    expiresAt: start + HOUR_MS + RETIRED_RETENTION_MS - 1
  })
  t.equal((await keyHandle(store).retired()).length, 2, 'one millisecond before the end of retention the record is kept')
  await keyHandle(store).rotate({ newKey: generateAnonKey(), now: start + HOUR_MS + RETIRED_RETENTION_MS, expiresAt: start + 2 * RETIRED_RETENTION_MS })
  const records = await keyHandle(store).retired()
  t.equal(records.length, 1, 'the record retired 30 days ago is gone')
  t.notOk(records.some((record) => record.rotatedAt === start))
})

t.test(`at most ${RETIRED_RECORD_LIMIT} retired keys are remembered, the most recent ones, beside every valid key`, async (t) => {
  const store = memoryStore()
  await keyHandle(store).initialize(generateAnonKey())
  const start = Date.now()
  await keyHandle(store).rotate({ newKey: generateAnonKey(), now: start, expiresAt: start + 1000 * HOUR_MS }) // stays valid
  for (let i = 1; i <= RETIRED_RECORD_LIMIT + 5; i++) {
    await keyHandle(store).rotate({ newKey: generateAnonKey(), now: start + i, expiresAt: start + i })
  }
  t.same((await keyHandle(store).load()).previousKeys.map((record) => record.rotatedAt), [start], 'the valid key stays in the document')
  const records = await keyHandle(store).retired()
  t.equal(records.length, RETIRED_RECORD_LIMIT)
  const oldestRetired = Math.min(...records.map((record) => record.rotatedAt))
  t.equal(oldestRetired, start + 6, 'the five oldest retired records were dropped')
})

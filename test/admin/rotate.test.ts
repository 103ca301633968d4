import t from 'tap'
import { assertError, currentKey, listPrevious, rotate, startApp, useKey } from '../helpers/app.js'
import { memoryStore } from '../../lib/index.js'
import { fingerprintOf, generateAnonKey } from '../../lib/stores/index.js'
import { keyHandle } from '../../lib/conformance/index.js'

const HOUR_MS = 60 * 60 * 1000

t.test('50 concurrent rotations through HTTP lose nothing', async (t) => {
  const app = await startApp(t)
  const initial = await currentKey(app)
  const responses = await Promise.all(Array.from({ length: 50 }, () => rotate(app, { gracePeriodHours: 1 })))
  const statuses = responses.map((response) => response.statusCode)
  t.same(statuses.filter((status) => status !== 200), [], `every rotation should answer 200; got ${statuses.join(',')}`)

  const newKeys = responses.map((response) => response.json().anonKey as string)
  t.equal(new Set(newKeys).size, 50, '50 rotations should hand out 50 distinct keys')
  const current = await currentKey(app)
  t.ok(newKeys.includes(current), 'the current key is one of the keys handed out')

  const results = await Promise.all([initial, ...newKeys].map((key) => app.anonKey.verify(key)))
  const currentOnes = results.filter((result) => result.valid && result.expiresAt === null)
  t.equal(currentOnes.length, 1, 'exactly one key is current')
  const previousOnes = results.filter((result) => result.valid && result.expiresAt !== null)
  t.equal(previousOnes.length, 50, 'the initial key and the 49 other new keys all verify as previous keys')

  const listed = await listPrevious(app)
  t.equal(listed.length, 50, 'GET /previous lists 50 previous keys: the initial one and 49 of the new ones')
  const expected = [initial, ...newKeys].filter((key) => key !== current).map(fingerprintOf).sort()
  t.same(listed.map((entry) => entry.fingerprint).sort(), expected, 'the listing names exactly the keys that were rotated out')

  for (const key of [initial, ...newKeys]) {
    const response = await useKey(app, key)
    if (response.statusCode !== 200) t.fail(`a request with a key from the concurrent rotations got ${response.statusCode} ${response.body}`)
  }
})

t.test('a grace of 0 cuts the old key off as soon as the rotation answers', async (t) => {
  const app = await startApp(t)
  const old = await currentKey(app)
  t.equal((await useKey(app, old)).statusCode, 200, 'the key verifies before the rotation')
  const response = await rotate(app, { gracePeriodHours: 0 })
  t.equal(response.statusCode, 200)
  assertError(t, await useKey(app, old), 401, 'ANON_KEY_EXPIRED')
  t.same(await app.anonKey.verify(old), { valid: false, code: 'ANON_KEY_EXPIRED' })
  t.equal((await useKey(app, response.json().anonKey)).statusCode, 200, 'the new key verifies')
  t.same(await listPrevious(app), [], 'an expired previous key is not listed')
})

t.test('the default grace is 168 h', async (t) => {
  const app = await startApp(t)
  const before = Date.now()
  const response = await rotate(app)
  const after = Date.now()
  const expiresAt = Date.parse(response.json().oldKeyExpiresAt)
  t.ok(expiresAt >= before + 168 * HOUR_MS && expiresAt <= after + 168 * HOUR_MS,
    `oldKeyExpiresAt should be the rotation instant + 168 h; got ${response.json().oldKeyExpiresAt}`)
})

t.test('defaultGracePeriodHours sets the grace of a rotation that names none', async (t) => {
  const app = await startApp(t, { defaultGracePeriodHours: 2 })
  const before = Date.now()
  const response = await rotate(app)
  t.equal(Math.round((Date.parse(response.json().oldKeyExpiresAt) - before) / HOUR_MS), 2)
})

t.test('a previous key verifies during its grace, with its expiry on request.anonKey', async (t) => {
  const app = await startApp(t)
  const old = await currentKey(app)
  const rotated = (await rotate(app, { gracePeriodHours: 5 })).json()
  const response = await useKey(app, old)
  t.equal(response.statusCode, 200, `client got ${response.statusCode} ${response.body}`)
  t.same(response.json().anonKey, { role: 'anon', name: 'default', fingerprint: fingerprintOf(old), expiresAt: rotated.oldKeyExpiresAt })
  const current = await useKey(app, rotated.anonKey)
  t.same(current.json().anonKey, { role: 'anon', name: 'default', fingerprint: fingerprintOf(rotated.anonKey), expiresAt: null })
})

t.test('each previous key keeps its own expiry across later rotations', async (t) => {
  const app = await startApp(t)
  const first = await currentKey(app)
  const firstExpiry = (await rotate(app, { gracePeriodHours: 10 })).json().oldKeyExpiresAt
  const second = await currentKey(app)
  const secondExpiry = (await rotate(app, { gracePeriodHours: 1 })).json().oldKeyExpiresAt
  const third = await currentKey(app)
  await rotate(app, { gracePeriodHours: 0 })

  const byFingerprint = new Map((await listPrevious(app)).map((entry) => [entry.fingerprint, entry.expiresAt]))
  t.equal(byFingerprint.get(fingerprintOf(first)), firstExpiry, 'the first key still expires when its rotation said')
  t.equal(byFingerprint.get(fingerprintOf(second)), secondExpiry, 'a shorter later grace does not shorten an earlier one')
  t.notOk(byFingerprint.has(fingerprintOf(third)), 'the key rotated with 0 h is gone from the listing')
  t.same(await app.anonKey.verify(first), { valid: true, role: 'anon', name: 'default', fingerprint: fingerprintOf(first), expiresAt: firstExpiry })
  t.same(await app.anonKey.verify(second), { valid: true, role: 'anon', name: 'default', fingerprint: fingerprintOf(second), expiresAt: secondExpiry })
  t.same(await app.anonKey.verify(third), { valid: false, code: 'ANON_KEY_EXPIRED' })
})

t.test('GET /previous lists the newest rotation first', async (t) => {
  const app = await startApp(t)
  const first = await currentKey(app)
  await rotate(app, { gracePeriodHours: 3 })
  await new Promise((resolve) => setTimeout(resolve, 5))
  const second = await currentKey(app)
  await rotate(app, { gracePeriodHours: 3 })
  t.same((await listPrevious(app)).map((entry) => entry.fingerprint), [fingerprintOf(second), fingerprintOf(first)])
})

t.test('a cached previous key stops verifying the moment its grace ends, without any reload', async (t) => {
  const store = memoryStore()
  const old = generateAnonKey()
  await keyHandle(store).initialize(old)
  // A rotation whose grace ends 3 s from now (room for a start-up on a loaded machine), made straight on the store.
  const expiresAt = Date.now() + 3000
  await keyHandle(store).rotate({ newKey: generateAnonKey(), now: Date.now(), expiresAt })
  const app = await startApp(t, { store, cacheTtlMs: 2 ** 31 - 1 })
  t.same(await app.anonKey.verify(old), { valid: true, role: 'anon', name: 'default', fingerprint: fingerprintOf(old), expiresAt: new Date(expiresAt).toISOString() })
  t.equal((await useKey(app, old)).statusCode, 200, 'the previous key verifies during its grace')
  while (Date.now() < expiresAt) await new Promise((resolve) => setTimeout(resolve, 20))
  assertError(t, await useKey(app, old), 401, 'ANON_KEY_EXPIRED')
})

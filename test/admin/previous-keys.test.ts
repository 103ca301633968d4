import t from 'tap'
import { adminHeaders, assertError, currentKey, listPrevious, revoke, rotate, startApp, useKey } from '../helpers/app.js'
import { memoryStore } from '../../lib/index.js'
import { fingerprintOf, generateAnonKey } from '../../lib/stores/index.js'
import { RETIRED_RETENTION_MS } from '../../lib/stores/index.js'
import { keyHandle } from '../../lib/conformance/index.js'

t.test('revoking one previous key by fingerprint makes it answer ANON_KEY_REVOKED and leaves the others valid', async (t) => {
  const app = await startApp(t)
  const first = await currentKey(app)
  await rotate(app, { gracePeriodHours: 2 })
  const second = await currentKey(app)
  await rotate(app, { gracePeriodHours: 2 })
  const current = await currentKey(app)

  const response = await revoke(app, fingerprintOf(first))
  t.same(response.json(), { success: true, revoked: 1 }, `client got ${response.statusCode} ${response.body}`)
  assertError(t, await useKey(app, first), 401, 'ANON_KEY_REVOKED')
  t.same(await app.anonKey.verify(first), { valid: false, code: 'ANON_KEY_REVOKED' })
  t.equal((await useKey(app, second)).statusCode, 200, 'the other previous key still verifies')
  t.equal((await useKey(app, current)).statusCode, 200, 'the current key still verifies')
  t.same((await listPrevious(app)).map((entry) => entry.fingerprint), [fingerprintOf(second)], 'the revoked key is gone from the listing')
})

t.test('revoking an unknown fingerprint answers 404 NOT_FOUND', async (t) => {
  const app = await startApp(t)
  await rotate(app)
  assertError(t, await revoke(app, '0123456789ab'), 404, 'NOT_FOUND')
  t.equal((await listPrevious(app)).length, 1, 'nothing was revoked')
})

t.test('revoking an already revoked key answers 404 NOT_FOUND', async (t) => {
  const app = await startApp(t)
  const old = await currentKey(app)
  await rotate(app)
  t.equal((await revoke(app, fingerprintOf(old))).statusCode, 200)
  assertError(t, await revoke(app, fingerprintOf(old)), 404, 'NOT_FOUND')
})

t.test('revoking an expired previous key answers 404 NOT_FOUND', async (t) => {
  const app = await startApp(t)
  const old = await currentKey(app)
  await rotate(app, { gracePeriodHours: 0 })
  assertError(t, await revoke(app, fingerprintOf(old)), 404, 'NOT_FOUND')
  assertError(t, await useKey(app, old), 401, 'ANON_KEY_EXPIRED')
})

t.test('revoking the current key by its fingerprint answers 404 NOT_FOUND and the key keeps working', async (t) => {
  const app = await startApp(t)
  const current = await currentKey(app)
  assertError(t, await revoke(app, fingerprintOf(current)), 404, 'NOT_FOUND')
  t.equal((await useKey(app, current)).statusCode, 200)
})

for (const fingerprint of ['0123456789AB', '0123456789a', '0123456789abc', 'zzzzzzzzzzzz', 'anon_0123456']) {
  t.test(`revoking the malformed fingerprint ${fingerprint} answers 400 INVALID_INPUT`, async (t) => {
    const app = await startApp(t)
    await rotate(app)
    const response = await revoke(app, fingerprint)
    assertError(t, response, 400, 'INVALID_INPUT')
    t.equal(response.json().message, 'fingerprint must be 12 lowercase hex characters.')
    t.equal((await listPrevious(app)).length, 1, 'nothing was revoked')
  })
}

t.test('revoking all previous keys answers their count and every one answers ANON_KEY_REVOKED', async (t) => {
  const app = await startApp(t)
  const olds: string[] = []
  for (let i = 0; i < 3; i++) {
    olds.push(await currentKey(app))
    await rotate(app, { gracePeriodHours: 4 })
  }
  const expired = await currentKey(app)
  await rotate(app, { gracePeriodHours: 0 }) // expired at once, so not counted
  const newest = await currentKey(app)

  const response = await revoke(app)
  t.same(response.json(), { success: true, revoked: 3 }, `client got ${response.body}`)
  for (const key of olds) assertError(t, await useKey(app, key), 401, 'ANON_KEY_REVOKED')
  assertError(t, await useKey(app, expired), 401, 'ANON_KEY_EXPIRED')
  t.equal((await useKey(app, newest)).statusCode, 200, 'the current key still verifies')
  t.same(await listPrevious(app), [])
})

t.test('a key that stopped verifying 30 days ago answers plain AUTH_INVALID_CREDENTIALS', async (t) => {
  const store = memoryStore()
  const old = generateAnonKey()
  await keyHandle(store).initialize(old)
  // Rotated with grace 0 just under 30 days ago: still remembered when the app starts, forgotten 3 s later.
  const retiredAt = Date.now() - RETIRED_RETENTION_MS + 3000
  await keyHandle(store).rotate({ newKey: generateAnonKey(), now: retiredAt, expiresAt: retiredAt })
  const app = await startApp(t, { store })
  t.same(await app.anonKey.verify(old), { valid: false, code: 'ANON_KEY_EXPIRED' })
  while (Date.now() < retiredAt + RETIRED_RETENTION_MS) await new Promise((resolve) => setTimeout(resolve, 20))
  assertError(t, await useKey(app, old), 401, 'AUTH_INVALID_CREDENTIALS')
})

t.test('a key that stopped verifying more than 30 days before start-up is forgotten', async (t) => {
  const store = memoryStore()
  const old = generateAnonKey()
  await keyHandle(store).initialize(old)
  const retiredAt = Date.now() - RETIRED_RETENTION_MS - 1000
  await keyHandle(store).rotate({ newKey: generateAnonKey(), now: retiredAt, expiresAt: retiredAt })
  const app = await startApp(t, { store })
  t.same(await app.anonKey.verify(old), { valid: false, code: 'AUTH_INVALID_CREDENTIALS' })
})

t.test('the revoke routes need an admin token too', async (t) => {
  const app = await startApp(t)
  const response = await app.inject({ method: 'DELETE', url: '/api/secrets/anon-key/previous', headers: adminHeaders({ role: 'anon' }) })
  assertError(t, response, 403, 'FORBIDDEN')
})

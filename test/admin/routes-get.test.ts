import t from 'tap'
import { adminHeaders, assertError, currentKey, listPrevious, revoke, rotate, startApp } from '../helpers/app.js'

const ANON_KEY = /^anon_[0-9a-f]{64}$/
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

t.test('GET /api/metadata/anon-key answers 200 with exactly { anonKey }', async (t) => {
  const app = await startApp(t)
  const response = await app.inject({ url: '/api/metadata/anon-key', headers: adminHeaders() })
  t.equal(response.statusCode, 200, `client got ${response.statusCode} ${response.body}`)
  t.match(response.headers['content-type'], /^application\/json/)
  const body = response.json()
  t.same(Object.keys(body), ['anonKey'], `body was ${response.body}`)
  t.match(body.anonKey, ANON_KEY)
  t.equal(body.anonKey, await app.anonKey.get(), 'GET should return the same key as app.anonKey.get()')
})

t.test('POST /api/secrets/anon-key/rotate answers 200 with success, message, anonKey, oldKeyExpiresAt', async (t) => {
  const app = await startApp(t)
  const before = await currentKey(app)
  const response = await rotate(app)
  t.equal(response.statusCode, 200, `client got ${response.statusCode} ${response.body}`)
  const body = response.json()
  t.same(Object.keys(body).sort(), ['anonKey', 'message', 'oldKeyExpiresAt', 'success'])
  t.equal(body.success, true)
  t.equal(body.message, 'Anon key rotated successfully. Old key will remain valid during grace period.')
  t.match(body.anonKey, ANON_KEY)
  t.not(body.anonKey, before, 'rotation should hand out a new key')
  t.match(body.oldKeyExpiresAt, ISO)
  t.equal(await currentKey(app), body.anonKey, 'GET after rotate should return the new key')
})

t.test('a rotation with grace 0 says the old key stopped working', async (t) => {
  const app = await startApp(t)
  const response = await rotate(app, { gracePeriodHours: 0 })
  t.equal(response.json().message, 'Anon key rotated successfully. The old key stopped working immediately.')
})

t.test('GET /api/secrets/anon-key/previous answers 200 with previousKeys: [{ fingerprint, rotatedAt, expiresAt }]', async (t) => {
  const app = await startApp(t)
  const empty = await app.inject({ url: '/api/secrets/anon-key/previous', headers: adminHeaders() })
  t.equal(empty.statusCode, 200)
  t.same(empty.json(), { previousKeys: [] }, 'a fresh app has no previous key')
  await rotate(app, { gracePeriodHours: 1 })
  const response = await app.inject({ url: '/api/secrets/anon-key/previous', headers: adminHeaders() })
  t.equal(response.statusCode, 200)
  const { previousKeys } = response.json()
  t.equal(previousKeys.length, 1, `body was ${response.body}`)
  t.ok(['fingerprint', 'rotatedAt', 'expiresAt'].every((field) => field in previousKeys[0]), `each listed key has fingerprint, rotatedAt, expiresAt; got ${response.body}`)
  t.match(previousKeys[0].fingerprint, /^[0-9a-f]{12}$/)
  t.match(previousKeys[0].rotatedAt, ISO)
  t.match(previousKeys[0].expiresAt, ISO)
  t.notMatch(response.body, /anon_/, 'the listing never holds a key')
})

t.test('DELETE /api/secrets/anon-key/previous answers 200 { success: true, revoked: N }', async (t) => {
  const app = await startApp(t)
  await rotate(app)
  await rotate(app)
  const response = await revoke(app)
  t.equal(response.statusCode, 200)
  t.same(response.json(), { success: true, revoked: 2 })
  const again = await revoke(app)
  t.same(again.json(), { success: true, revoked: 0 }, 'revoking when nothing is left revokes 0')
})

t.test('DELETE /api/secrets/anon-key/previous/:fingerprint answers 200 { success: true, revoked: 1 }', async (t) => {
  const app = await startApp(t)
  await rotate(app)
  const [{ fingerprint }] = await listPrevious(app)
  const response = await revoke(app, fingerprint)
  t.equal(response.statusCode, 200)
  t.same(response.json(), { success: true, revoked: 1 })
})

t.test('with autoInitialize false, GET answers 404 ANON_KEY_NOT_INITIALIZED', async (t) => {
  const app = await startApp(t, { autoInitialize: false })
  const response = await app.inject({ url: '/api/metadata/anon-key', headers: adminHeaders() })
  assertError(t, response, 404, 'ANON_KEY_NOT_INITIALIZED')
  t.equal(await app.anonKey.get(), null, 'app.anonKey.get() resolves to null')
})

t.test('with autoInitialize false, rotate answers 404 ANON_KEY_NOT_INITIALIZED', async (t) => {
  const app = await startApp(t, { autoInitialize: false })
  assertError(t, await rotate(app), 404, 'ANON_KEY_NOT_INITIALIZED')
  await t.rejects(app.anonKey.rotate(), { code: 'ANON_KEY_NOT_INITIALIZED', statusCode: 404 })
})

t.test('app.anonKey.initialize() creates the key that GET then returns and rotate can rotate', async (t) => {
  const app = await startApp(t, { autoInitialize: false })
  const { created, anonKey } = await app.anonKey.initialize()
  t.equal(created, true)
  t.match(anonKey, ANON_KEY)
  t.equal(await currentKey(app), anonKey)
  const response = await rotate(app)
  t.equal(response.statusCode, 200, `client got ${response.statusCode} ${response.body}`)
  const second = await app.anonKey.initialize()
  t.same(second, { created: false, anonKey: response.json().anonKey }, 'a second initialize keeps the current key')
})

t.test('the admin routes answer 401 in the contract format without a token', async (t) => {
  const app = await startApp(t)
  const requests = [
    { method: 'GET' as const, url: '/api/metadata/anon-key' },
    { method: 'POST' as const, url: '/api/secrets/anon-key/rotate' },
    { method: 'GET' as const, url: '/api/secrets/anon-key/previous' },
    { method: 'DELETE' as const, url: '/api/secrets/anon-key/previous' },
    { method: 'DELETE' as const, url: '/api/secrets/anon-key/previous/0123456789ab' }
  ]
  for (const request of requests) {
    assertError(t, await app.inject(request), 401, 'AUTH_INVALID_CREDENTIALS')
  }
})

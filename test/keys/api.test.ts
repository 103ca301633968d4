import t from 'tap'
import { currentKey, listPrevious, rotate, startApp } from '../helpers/app.js'
import { fingerprintOf, generateAnonKey } from '../../lib/stores/index.js'

t.test('app.anonKey.get() resolves to the current key, null when there is none', async (t) => {
  const app = await startApp(t)
  t.equal(await app.anonKey.get(), await currentKey(app))
  const empty = await startApp(t, { autoInitialize: false })
  t.equal(await empty.anonKey.get(), null)
})

t.test('app.anonKey.rotate() resolves to the same object as the HTTP answer', async (t) => {
  const app = await startApp(t)
  const result = await app.anonKey.rotate({ gracePeriodHours: 3 })
  t.same(Object.keys(result).sort(), ['anonKey', 'message', 'oldKeyExpiresAt', 'success'])
  t.equal(result.success, true)
  t.equal(result.message, 'Anon key rotated successfully. Old key will remain valid during grace period.')
  t.equal(result.anonKey, await currentKey(app))
  const http = (await rotate(app, { gracePeriodHours: 3 })).json()
  t.same(Object.keys(http).sort(), Object.keys(result).sort())
})

t.test('app.anonKey.rotate() without options uses the default grace', async (t) => {
  const app = await startApp(t, { defaultGracePeriodHours: 5 })
  const before = Date.now()
  const { oldKeyExpiresAt } = await app.anonKey.rotate()
  t.equal(Math.round((Date.parse(oldKeyExpiresAt) - before) / 3_600_000), 5)
})

for (const gracePeriodHours of [-1, 1.5, 721, Number.NaN, '24', null, true]) {
  t.test(`app.anonKey.rotate() rejects gracePeriodHours ${String(gracePeriodHours)} with INVALID_INPUT and keeps the key`, async (t) => {
    const app = await startApp(t)
    const before = await currentKey(app)
    await t.rejects(app.anonKey.rotate({ gracePeriodHours: gracePeriodHours as number }), {
      code: 'INVALID_INPUT',
      statusCode: 400,
      message: 'gracePeriodHours must be an integer from 0 to 720'
    })
    t.equal(await currentKey(app), before)
  })
}

t.test('app.anonKey.verify() resolves the current key to its identity with a null expiry', async (t) => {
  const app = await startApp(t)
  const key = await currentKey(app)
  t.same(await app.anonKey.verify(key), { valid: true, role: 'anon', name: 'default', fingerprint: fingerprintOf(key), expiresAt: null })
})

t.test('app.anonKey.verify() resolves a previous key to its identity with its expiry', async (t) => {
  const app = await startApp(t)
  const key = await currentKey(app)
  const { oldKeyExpiresAt } = await app.anonKey.rotate({ gracePeriodHours: 2 })
  t.same(await app.anonKey.verify(key), { valid: true, role: 'anon', name: 'default', fingerprint: fingerprintOf(key), expiresAt: oldKeyExpiresAt })
})

const notKeys: Array<[string, unknown]> = [
  ['undefined', undefined],
  ['null', null],
  ['a number', 42],
  ['an object', { key: 'anon_' }],
  ['an array', []],
  ['a Buffer', Buffer.from('anon_')],
  ['an empty string', ''],
  ['a short key', 'anon_abc'],
  ['a key with uppercase hex', 'anon_' + 'A'.repeat(64)],
  ['an unknown well-formed key', 'anon_' + '0'.repeat(64)],
  ['a very long string', 'anon_' + 'a'.repeat(100_000)]
]

for (const [name, value] of notKeys) {
  t.test(`app.anonKey.verify() never throws for ${name}: it resolves to { valid: false, code: AUTH_INVALID_CREDENTIALS }`, async (t) => {
    const app = await startApp(t)
    t.same(await app.anonKey.verify(value), { valid: false, code: 'AUTH_INVALID_CREDENTIALS' })
  })
}

t.test('app.anonKey.verify() of a fresh random key is AUTH_INVALID_CREDENTIALS', async (t) => {
  const app = await startApp(t)
  t.same(await app.anonKey.verify(generateAnonKey()), { valid: false, code: 'AUTH_INVALID_CREDENTIALS' })
})

t.test('app.anonKey.listPrevious() resolves to what GET /previous lists', async (t) => {
  const app = await startApp(t)
  await app.anonKey.rotate({ gracePeriodHours: 1 })
  await app.anonKey.rotate({ gracePeriodHours: 2 })
  t.same(await app.anonKey.listPrevious(), await listPrevious(app))
  t.equal((await app.anonKey.listPrevious()).length, 2)
})

t.test('app.anonKey.revokePrevious(fingerprint) revokes one key', async (t) => {
  const app = await startApp(t)
  const old = await currentKey(app)
  await app.anonKey.rotate()
  t.same(await app.anonKey.revokePrevious(fingerprintOf(old)), { success: true, revoked: 1 })
  t.same(await app.anonKey.verify(old), { valid: false, code: 'ANON_KEY_REVOKED' })
})

t.test('app.anonKey.revokePrevious() revokes every previous key', async (t) => {
  const app = await startApp(t)
  await app.anonKey.rotate()
  await app.anonKey.rotate()
  t.same(await app.anonKey.revokePrevious(), { success: true, revoked: 2 })
  t.same(await app.anonKey.listPrevious(), [])
})

t.test('app.anonKey.revokePrevious() rejects an unknown fingerprint with NOT_FOUND', async (t) => {
  const app = await startApp(t)
  await t.rejects(app.anonKey.revokePrevious('abcdefabcdef'), { code: 'NOT_FOUND', statusCode: 404 })
})

for (const fingerprint of ['ABCDEFABCDEF', 'abc', 42, null]) {
  t.test(`app.anonKey.revokePrevious() rejects the fingerprint ${JSON.stringify(fingerprint)} with INVALID_INPUT`, async (t) => {
    const app = await startApp(t)
    await app.anonKey.rotate()
    await t.rejects(app.anonKey.revokePrevious(fingerprint as string), { code: 'INVALID_INPUT', message: 'fingerprint must be 12 lowercase hex characters' })
    t.equal((await app.anonKey.listPrevious()).length, 1, 'nothing was revoked')
  })
}

t.test('app.anonKey.initialize() on an initialized store keeps the key', async (t) => {
  const app = await startApp(t)
  const key = await currentKey(app)
  t.same(await app.anonKey.initialize(), { created: false, anonKey: key })
})

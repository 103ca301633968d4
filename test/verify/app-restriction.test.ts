import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { assertError, startApp } from '../helpers/app.js'
import { createNamedKey, keysRequest, useKeyFrom } from '../helpers/named-keys.js'
import type { VerifyContext } from '../../lib/index.js'

const CERT = 'da39a3ee5e6b4b0d3255bfef95601890afd80709'
const CERT_AS_KEYTOOL_PRINTS_IT = 'DA:39:A3:EE:5E:6B:4B:0D:32:55:BF:EF:95:60:18:90:AF:D8:07:09'
const OTHER_CERT = 'a'.repeat(40)

const android = (packageName: string, cert: string) => ({ 'x-android-package': packageName, 'x-android-cert': cert })
const ios = (bundle: string) => ({ 'x-ios-bundle-identifier': bundle })

/** The same headers as verify() takes them. */
function contextOf (headers: Record<string, string>): VerifyContext {
  return {
    origin: headers.origin,
    referer: headers.referer,
    androidPackage: headers['x-android-package'],
    androidCert: headers['x-android-cert'],
    iosBundle: headers['x-ios-bundle-identifier']
  }
}

/** Sends the key with these headers through verifyAnonKey and through verify(), and checks both give `expected`. */
async function judged (t: Test, app: FastifyInstance, key: string, headers: Record<string, string>, expected: 200 | string): Promise<void> {
  const response = await useKeyFrom(app, key, headers)
  const verdict = await app.anonKey.verify(key, contextOf(headers))
  const label = JSON.stringify(headers)
  if (expected === 200) {
    t.equal(response.statusCode, 200, `${label} passes the hook; got ${response.body}`)
    t.equal(verdict.valid, true, `${label} passes verify()`)
  } else {
    assertError(t, response, 403, expected)
    t.same(verdict, { valid: false, code: expected }, `${label}: verify() refuses alike`)
  }
}

t.test('an Android-bound key passes with its package and certificate, the certificate in any case and with colons', async (t) => {
  const app = await startApp(t)
  const key = (await createNamedKey(app, { name: 'android', allowedApps: { android: [{ packageName: 'com.example.app', certSha1: CERT_AS_KEYTOOL_PRINTS_IT }] } })).anonKey
  await judged(t, app, key, android('com.example.app', CERT), 200)
  await judged(t, app, key, android('com.example.app', CERT_AS_KEYTOOL_PRINTS_IT), 200)
  await judged(t, app, key, android('com.example.app', CERT.toUpperCase()), 200)
  const refused: Array<Record<string, string>> = [
    {},
    android('com.example.app', OTHER_CERT),
    android('com.example.App', CERT),
    android('com.example.app.evil', CERT),
    { 'x-android-package': 'com.example.app' },
    { 'x-android-cert': CERT },
    android('com.example.app', CERT + '00'),
    android('com.example.app', 'not hex at all'),
    ios('com.example.app'),
    { origin: 'https://app.example.com' }
  ]
  for (const headers of refused) {
    await judged(t, app, key, headers, 'ANON_KEY_APP_NOT_ALLOWED')
  }
})

t.test('an iOS-bound key passes with its bundle id, compared as Apple does, without case', async (t) => {
  const app = await startApp(t)
  const created = await createNamedKey(app, { name: 'ios', allowedApps: { ios: ['com.Example.App', 'com.example.app-beta'] } })
  t.same(created.allowedApps, { ios: ['com.example.app', 'com.example.app-beta'] }, 'stored lowercase, duplicates by case merged')
  await judged(t, app, created.anonKey, ios('com.example.app'), 200)
  await judged(t, app, created.anonKey, ios('COM.EXAMPLE.APP'), 200)
  await judged(t, app, created.anonKey, ios('com.example.app-beta'), 200)
  for (const headers of [{}, ios('com.example'), ios('com.example.app.extension'), ios(''), android('com.example.app', CERT)]) {
    await judged(t, app, created.anonKey, headers, 'ANON_KEY_APP_NOT_ALLOWED')
  }
})

t.test('a key bound to origins and apps passes a request that satisfies either, and says which rule refused', async (t) => {
  const app = await startApp(t)
  const key = (await createNamedKey(app, {
    name: 'all',
    allowedOrigins: ['https://app.example.com'],
    allowedApps: { android: [{ packageName: 'com.example.app', certSha1: CERT }], ios: ['com.example.app'] }
  })).anonKey
  await judged(t, app, key, { origin: 'https://app.example.com' }, 200)
  await judged(t, app, key, android('com.example.app', CERT), 200)
  await judged(t, app, key, ios('com.example.app'), 200)
  await judged(t, app, key, { origin: 'https://evil.com', ...ios('com.example.app') }, 200)
  await judged(t, app, key, { origin: 'https://app.example.com', ...ios('com.evil.app') }, 200)
  await judged(t, app, key, {}, 'ANON_KEY_ORIGIN_NOT_ALLOWED')
  await judged(t, app, key, { origin: 'https://evil.com' }, 'ANON_KEY_ORIGIN_NOT_ALLOWED')
  await judged(t, app, key, ios('com.evil.app'), 'ANON_KEY_APP_NOT_ALLOWED')
  await judged(t, app, key, { origin: 'https://evil.com', ...android('com.example.app', OTHER_CERT) }, 'ANON_KEY_APP_NOT_ALLOWED')
})

t.test('previous keys keep their name\'s apps; other names are not bound; a wrong key is 401 first', async (t) => {
  const app = await startApp(t)
  const old = (await createNamedKey(app, { name: 'ios', allowedApps: { ios: ['com.example.app'] } })).anonKey
  await app.anonKey.rotate({ name: 'ios', gracePeriodHours: 1 })
  await judged(t, app, old, ios('com.evil.app'), 'ANON_KEY_APP_NOT_ALLOWED')
  const passing = await useKeyFrom(app, old, ios('com.example.app'))
  t.equal(passing.statusCode, 200)
  t.not(passing.json().anonKey.expiresAt, null, 'it is the previous key that passed')
  t.equal((await useKeyFrom(app, (await app.anonKey.get()) as string)).statusCode, 200, 'default stays unbound')
  const second = (await app.anonKey.getKey('ios')).anonKey
  await app.anonKey.rotate({ name: 'ios', gracePeriodHours: 0 })
  assertError(t, await useKeyFrom(app, second, ios('com.evil.app')), 401, 'ANON_KEY_EXPIRED')
})

t.test('verify() judges apps only when given the request\'s headers, as it does origins', async (t) => {
  const app = await startApp(t)
  const key = (await createNamedKey(app, { name: 'ios', allowedApps: { ios: ['com.example.app'] } })).anonKey
  t.match(await app.anonKey.verify(key), { valid: true, name: 'ios' })
  t.same(await app.anonKey.verify(key, {}), { valid: false, code: 'ANON_KEY_APP_NOT_ALLOWED' })
})

t.test('PATCH binds a key to apps and null lifts it, on the next request; listings show the normal form', async (t) => {
  const app = await startApp(t)
  const key = (await createNamedKey(app, { name: 'mobile' })).anonKey
  t.equal((await useKeyFrom(app, key)).statusCode, 200)
  const patched = await keysRequest(app, 'PATCH', '/mobile', { allowedApps: { android: [{ packageName: 'com.example.app', certSha1: CERT_AS_KEYTOOL_PRINTS_IT }, { packageName: 'com.example.app', certSha1: CERT }] } })
  t.equal(patched.statusCode, 200, patched.body)
  const bound = { android: [{ packageName: 'com.example.app', certSha1: CERT }] }
  t.same(patched.json().allowedApps, bound, 'the certificate is stored as 40 lowercase hex, the duplicate merged')
  assertError(t, await useKeyFrom(app, key), 403, 'ANON_KEY_APP_NOT_ALLOWED')
  const listed = (await keysRequest(app, 'GET')).json().anonKeys.find((entry: { name: string }) => entry.name === 'mobile')
  t.same(listed.allowedApps, bound)
  t.same((await keysRequest(app, 'GET', '/mobile')).json().allowedApps, bound)
  t.same((await app.anonKey.getKey('mobile')).allowedApps, bound)
  const described = await keysRequest(app, 'PATCH', '/mobile', { description: 'Mobile' })
  t.same(described.json().allowedApps, bound, 'a PATCH of something else keeps the apps')
  const lifted = await keysRequest(app, 'PATCH', '/mobile', { allowedApps: null })
  t.equal(lifted.json().allowedApps, null)
  t.equal((await useKeyFrom(app, key)).statusCode, 200, 'null lifted the restriction')
})

t.test('the created and updated events carry the apps', async (t) => {
  const app = await startApp(t)
  const events: unknown[] = []
  app.anonKey.on('created', (event) => events.push(event.allowedApps))
  app.anonKey.on('updated', (event) => events.push(event.allowedApps))
  await app.anonKey.createKey({ name: 'ios', allowedApps: { ios: ['com.example.app'] } })
  await app.anonKey.updateKey('ios', { allowedApps: null })
  t.same(events, [{ ios: ['com.example.app'] }, null])
})

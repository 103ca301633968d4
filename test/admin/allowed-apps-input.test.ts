import t from 'tap'
import { assertError, startApp } from '../helpers/app.js'
import { createNamedKey, keysRequest } from '../helpers/named-keys.js'

const CERT = 'DA:39:A3:EE:5E:6B:4B:0D:32:55:BF:EF:95:60:18:90:AF:D8:07:09'
const app = (packageName: string, certSha1: unknown = CERT) => ({ packageName, certSha1 })

const REFUSED: Array<[unknown, RegExp]> = [
  [{}, /allowedApps must (be null or an object|name at least one app)/],
  [[], /allowedApps must be null or an object/],
  ['com.example.app', /allowedApps must be null or an object/],
  [{ windows: ['x'] }, /allowedApps/],
  [{ android: [] }, /allowedApps/],
  [{ ios: [] }, /allowedApps/],
  [{ android: [app('com.example.app')], ios: ['com.example.app'], web: [] }, /allowedApps/],
  [{ ios: new Array(51).fill('com.example.app') }, /allowedApps/],
  [{ android: [{ packageName: 'com.example.app' }] }, /allowedApps/],
  [{ android: [{ ...app('com.example.app'), sha256: 'x' }] }, /allowedApps/],
  [{ android: [app('example')] }, /allowedApps.android\[0\].packageName "example" must be an Android package name/],
  [{ android: [app('com.1example.app')] }, /packageName "com.1example.app"/],
  [{ android: [app('com..app')] }, /packageName/],
  [{ android: [app('com.example-app.x')] }, /packageName/],
  [{ android: [app('com.example.app', 'da39a3ee')] }, /allowedApps.android\[0\].certSha1 "da39a3ee" must be the SHA-1 of the signing certificate/],
  [{ android: [app('com.example.app', 'g'.repeat(40))] }, /certSha1/],
  [{ android: [app('com.example.app', 'AB:'.repeat(32).slice(0, -1))] }, /is a SHA-256 fingerprint; give the SHA-1/],
  [{ android: [app('com.example.app', 7)] }, /allowedApps/],
  [{ android: ['com.example.app'] }, /allowedApps/],
  [{ android: [null] }, /allowedApps/],
  [{ ios: ['app'] }, /allowedApps.ios\[0\] "app" must be an iOS bundle id/],
  [{ ios: ['com.example.app', 'com.example_app.x'] }, /allowedApps.ios\[1\] "com.example_app.x"/],
  [{ ios: ['com.example.'] }, /allowedApps.ios\[0\]/],
  [{ ios: ['com.' + 'a'.repeat(160)] }, /allowedApps/],
  [{ ios: [42] }, /allowedApps/]
]

t.test('allowedApps that is not a list of well-formed apps is 400, naming the entry, on create and PATCH', async (t) => {
  const server = await startApp(t)
  await createNamedKey(server, { name: 'mobile' })
  for (const [allowedApps, message] of REFUSED) {
    for (const response of [
      await keysRequest(server, 'POST', '', { name: 'web', allowedApps }),
      await keysRequest(server, 'PATCH', '/mobile', { allowedApps })
    ]) {
      assertError(t, response, 400, 'INVALID_INPUT')
      t.match(response.json().message, message, `${JSON.stringify(allowedApps).slice(0, 80)}: ${response.json().message}`)
    }
    await t.rejects(server.anonKey.createKey({ name: 'web', allowedApps: allowedApps as never }), { code: 'INVALID_INPUT', message }, 'createKey() refuses alike')
  }
  t.same((await keysRequest(server, 'GET')).json().anonKeys.map((key: { name: string }) => key.name), ['default', 'mobile'], 'nothing was created')
  t.equal((await server.anonKey.getKey('mobile')).allowedApps, null, 'nothing was changed')
})

t.test('a PATCH that names only allowedApps, requireAttestation or rateLimit is a change', async (t) => {
  const server = await startApp(t)
  await createNamedKey(server, { name: 'mobile' })
  t.equal((await keysRequest(server, 'PATCH', '/mobile', { allowedApps: null })).statusCode, 200)
  t.equal((await keysRequest(server, 'PATCH', '/mobile', { rateLimit: null })).statusCode, 200)
  t.equal((await keysRequest(server, 'PATCH', '/mobile', { requireAttestation: false })).statusCode, 200)
  await t.rejects(server.anonKey.updateKey('mobile', {}), { code: 'INVALID_INPUT', message: /description, allowedOrigins, allowedApps, requireAttestation, rateLimit/ })
})

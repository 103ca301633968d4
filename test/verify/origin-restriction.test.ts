import t from 'tap'
import { assertError, startApp } from '../helpers/app.js'
import { createNamedKey, useKeyFrom } from '../helpers/named-keys.js'

t.test('a restricted key passes only from its origins, by Origin or else by the origin of the Referer', async (t) => {
  const app = await startApp(t)
  const web = await createNamedKey(app, { name: 'web', allowedOrigins: ['https://app.example.com', 'https://*.preview.example.com', 'http://localhost:5173'] })
  const passes: Array<Record<string, string>> = [
    { origin: 'https://app.example.com' },
    { origin: 'https://pr-12.preview.example.com' },
    { origin: 'https://a.b.preview.example.com' },
    { origin: 'http://localhost:5173' },
    { referer: 'https://app.example.com/settings?tab=1' },
    { origin: 'HTTPS://APP.EXAMPLE.COM:443' }
  ]
  for (const headers of passes) {
    const response = await useKeyFrom(app, web.anonKey, headers)
    t.equal(response.statusCode, 200, `${JSON.stringify(headers)} passes; got ${response.body}`)
    t.equal(response.json().anonKey.name, 'web')
  }
  const refused: Array<Record<string, string>> = [
    {},
    { origin: 'null' },
    { origin: 'https://evil.com' },
    { origin: 'https://preview.example.com' },
    { origin: 'https://x.preview.example.com.evil.com' },
    { origin: 'https://evilapp.example.com' },
    { origin: 'http://app.example.com' },
    { origin: 'https://app.example.com:8443' },
    { origin: 'http://localhost:5174' },
    { referer: 'https://evil.com/?https://app.example.com' },
    { origin: 'https://evil.com', referer: 'https://app.example.com/' }
  ]
  for (const headers of refused) {
    const response = await useKeyFrom(app, web.anonKey, headers)
    assertError(t, response, 403, 'ANON_KEY_ORIGIN_NOT_ALLOWED')
  }
})

t.test('the restriction applies to the previous keys of the name too, and never to other names', async (t) => {
  const app = await startApp(t)
  const web = await createNamedKey(app, { name: 'web', allowedOrigins: ['https://app.example.com'] })
  await app.anonKey.rotate({ name: 'web' })
  assertError(t, await useKeyFrom(app, web.anonKey, { origin: 'https://evil.com' }), 403, 'ANON_KEY_ORIGIN_NOT_ALLOWED')
  const old = await useKeyFrom(app, web.anonKey, { origin: 'https://app.example.com' })
  t.equal(old.statusCode, 200)
  t.not(old.json().anonKey.expiresAt, null)
  const ios = await createNamedKey(app, { name: 'ios' })
  t.equal((await useKeyFrom(app, ios.anonKey, { origin: 'https://evil.com' })).statusCode, 200, 'an unrestricted key passes from anywhere')
  t.equal((await useKeyFrom(app, ios.anonKey)).statusCode, 200)
})

t.test('a wrong or expired key is judged before its origin: 401, not 403', async (t) => {
  const app = await startApp(t)
  const web = await createNamedKey(app, { name: 'web', allowedOrigins: ['https://app.example.com'] })
  await app.anonKey.rotate({ name: 'web', gracePeriodHours: 0 })
  assertError(t, await useKeyFrom(app, web.anonKey, { origin: 'https://evil.com' }), 401, 'ANON_KEY_EXPIRED')
})

t.test('verify() judges origins only when given them', async (t) => {
  const app = await startApp(t)
  const web = await createNamedKey(app, { name: 'web', allowedOrigins: ['https://app.example.com'] })
  t.match(await app.anonKey.verify(web.anonKey), { valid: true, name: 'web' })
  t.match(await app.anonKey.verify(web.anonKey, { origin: 'https://app.example.com' }), { valid: true, name: 'web' })
  t.same(await app.anonKey.verify(web.anonKey, { origin: 'https://evil.com' }), { valid: false, code: 'ANON_KEY_ORIGIN_NOT_ALLOWED' })
  t.same(await app.anonKey.verify(web.anonKey, {}), { valid: false, code: 'ANON_KEY_ORIGIN_NOT_ALLOWED' })
  t.match(await app.anonKey.verify((await app.anonKey.get()) as string, { origin: 'https://evil.com' }), { valid: true, name: 'default' })
})

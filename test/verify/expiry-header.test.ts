import Fastify from 'fastify'
import t from 'tap'
import { bearer, currentKey, JWT_SECRET, rotate, startApp, useKey } from '../helpers/app.js'
import anonKey from '../../lib/index.js'

t.test('a request verified with a previous key gets Anon-Key-Expires-At, its expiry in ISO 8601 UTC', async (t) => {
  const app = await startApp(t)
  const old = await currentKey(app)
  const rotated = (await rotate(app, { gracePeriodHours: 24 })).json()
  const response = await useKey(app, old)
  t.equal(response.statusCode, 200)
  t.equal(response.headers['anon-key-expires-at'], rotated.oldKeyExpiresAt)
  t.match(response.headers['anon-key-expires-at'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  t.equal(response.json().anonKey.expiresAt, rotated.oldKeyExpiresAt, 'the header and request.anonKey agree')
})

t.test('the current key, a refused key and an unguarded route get no Anon-Key-Expires-At', async (t) => {
  const app = await startApp(t)
  const old = await currentKey(app)
  await rotate(app, { gracePeriodHours: 0 })
  const responses = [await useKey(app, await currentKey(app)), await useKey(app, old), await useKey(app, 'anon_x'), await app.inject({ url: '/api/metadata/anon-key' })]
  t.same(responses.map((response) => response.statusCode), [200, 401, 401, 401])
  for (const response of responses) t.equal(response.headers['anon-key-expires-at'], undefined)
})

t.test('each previous key is announced with its own expiry, through the apikey header too', async (t) => {
  const app = await startApp(t, { apiKeyHeader: true })
  const first = await currentKey(app)
  const firstExpiry = (await rotate(app, { gracePeriodHours: 48 })).json().oldKeyExpiresAt
  const second = await currentKey(app)
  const secondExpiry = (await rotate(app, { gracePeriodHours: 1 })).json().oldKeyExpiresAt
  t.equal((await useKey(app, first)).headers['anon-key-expires-at'], firstExpiry)
  t.equal((await app.inject({ url: '/data', headers: { apikey: second } })).headers['anon-key-expires-at'], secondExpiry)
})

t.test('expiryHeader: false turns the header off', async (t) => {
  const app = await startApp(t, { expiryHeader: false })
  const old = await currentKey(app)
  await rotate(app, { gracePeriodHours: 24 })
  const response = await useKey(app, old)
  t.equal(response.statusCode, 200)
  t.equal(response.headers['anon-key-expires-at'], undefined)
  t.type(response.json().anonKey.expiresAt, 'string', 'request.anonKey still names the expiry')
})

for (const value of ['false', 0, null, 'yes']) {
  t.test(`expiryHeader: ${JSON.stringify(value)} makes ready() reject naming the option`, async (t) => {
    const app = Fastify()
    t.teardown(() => app.close())
    app.register(anonKey, { jwt: { secret: JWT_SECRET }, expiryHeader: value as any })
    await t.rejects(async () => { await app.ready() }, { message: /option "expiryHeader" must be true or false/ })
  })
}

t.test('a host error handler still sees the header set on a verified request that fails later', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(anonKey, { jwt: { secret: JWT_SECRET } })
  app.get('/boom', { onRequest: app.verifyAnonKey }, async () => { throw new Error('handler failed') })
  await app.ready()
  const old = (await app.anonKey.get()) as string
  const { oldKeyExpiresAt } = await app.anonKey.rotate({ gracePeriodHours: 3 })
  const response = await app.inject({ url: '/boom', headers: bearer(old) })
  t.equal(response.statusCode, 500)
  t.equal(response.headers['anon-key-expires-at'], oldKeyExpiresAt, 'the client still learns its key is old')
})

import Fastify, { type FastifyInstance } from 'fastify'
import t from 'tap'
import { adminToken, assertError, bearer, currentKey, JWT_SECRET, rotate, startApp, useKey } from '../helpers/app.js'
import anonKey, { memoryStore, type FastifyAnonKeyOptions } from '../../lib/index.js'
import { fingerprintOf } from '../../lib/stores/index.js'
import { countingStore } from '../helpers/counting-store.js'

async function hostApp (t: { teardown: (fn: () => unknown) => void }, options: FastifyAnonKeyOptions = {}): Promise<FastifyInstance> {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(anonKey, { jwt: { secret: JWT_SECRET }, ...options })
  return app
}

t.test('verifyAnonKey as a global onRequest hook lets a valid key through and sets request.anonKey', async (t) => {
  const app = await hostApp(t)
  app.addHook('onRequest', app.verifyAnonKey)
  app.get('/rows', async (request) => ({ anonKey: request.anonKey }))
  await app.ready()
  const key = (await app.anonKey.get()) as string
  const response = await app.inject({ url: '/rows', headers: bearer(key) })
  t.equal(response.statusCode, 200, `client got ${response.statusCode} ${response.body}`)
  t.same(response.json(), { anonKey: { role: 'anon', name: 'default', fingerprint: fingerprintOf(key), expiresAt: null } })
  assertError(t, await app.inject({ url: '/rows' }), 401, 'AUTH_INVALID_CREDENTIALS')
})

t.test('verifyAnonKey as a route-level onRequest hook guards only that route', async (t) => {
  const app = await hostApp(t)
  app.get('/guarded', { onRequest: app.verifyAnonKey }, async (request) => ({ anonKey: request.anonKey }))
  app.get('/open', async (request) => ({ anonKey: request.anonKey }))
  await app.ready()
  const key = (await app.anonKey.get()) as string
  assertError(t, await app.inject({ url: '/guarded' }), 401, 'AUTH_INVALID_CREDENTIALS')
  t.equal((await app.inject({ url: '/guarded', headers: bearer(key) })).statusCode, 200)
  const open = await app.inject({ url: '/open' })
  t.equal(open.statusCode, 200)
  t.same(open.json(), { anonKey: null }, 'request.anonKey is null where verifyAnonKey did not run')
})

t.test('verifyAnonKey works as a preHandler hook too', async (t) => {
  const app = await hostApp(t)
  app.get('/late', { preHandler: app.verifyAnonKey }, async (request) => ({ anonKey: request.anonKey }))
  await app.ready()
  const key = (await app.anonKey.get()) as string
  t.equal((await app.inject({ url: '/late', headers: bearer(key) })).json().anonKey.fingerprint, fingerprintOf(key))
  assertError(t, await app.inject({ url: '/late', headers: bearer('anon_nope') }), 401, 'AUTH_INVALID_CREDENTIALS')
})

t.test('the Bearer scheme of an anon key is read in any case', async (t) => {
  const app = await startApp(t)
  const key = await currentKey(app)
  for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
    const response = await app.inject({ url: '/data', headers: { authorization: `${scheme} ${key}` } })
    t.equal(response.statusCode, 200, `"${scheme} <key>" should verify; client got ${response.statusCode} ${response.body}`)
  }
})

t.test('malformed keys and headers answer 401 AUTH_INVALID_CREDENTIALS', async (t) => {
  const app = await startApp(t)
  const key = await currentKey(app)
  const headers = [
    key,
    `Token ${key}`,
    `Digest ${key}`,
    `Bearer\t${key}`,
    `Bearer  ${key}`,
    `Bearer ${key} `,
    `Bearer ${key}0`,
    `Bearer ${key.slice(0, -1)}`,
    `Bearer ${key.toUpperCase()}`,
    `Bearer ${key.replace('anon_', 'ANON_')}`,
    `Bearer ${key.replace('anon_', 'service_')}`,
    `Bearer ${key.slice(0, -1)}g`,
    'Bearer ',
    'Bearer',
    'Bearerx',
    `Bearer anon_${'0'.repeat(64)}`
  ]
  for (const authorization of headers) {
    assertError(t, await app.inject({ url: '/data', headers: { authorization } }), 401, 'AUTH_INVALID_CREDENTIALS')
  }
})

t.test('verification makes no store call in steady state, for valid, previous, malformed and unknown keys', async (t) => {
  const { store, counts, reset } = countingStore(memoryStore())
  const app = await startApp(t, { store })
  const old = await currentKey(app)
  await rotate(app, { gracePeriodHours: 1 })
  const current = await currentKey(app)
  await rotate(app, { gracePeriodHours: 0 })
  const newest = await currentKey(app)
  await new Promise((resolve) => setTimeout(resolve, 20)) // let the change notifications' reloads finish
  reset()

  const keys = [newest, old, current, 'anon_short', `anon_${'f'.repeat(64)}`, 'x'.repeat(10_000), '']
  for (let round = 0; round < 20; round++) {
    for (const key of keys) await useKey(app, key)
    for (const key of keys) await app.anonKey.verify(key)
  }
  t.same(counts(), { loadRetired: 1, update: 1 }, 'no store call during verification but one load of the retired keys, for the first key the ' +
    'document does not know, and one write of the rotated-in key\'s first use')
  assertError(t, await app.inject({ url: '/data', headers: { authorization: `Bearer ${current}` } }), 401, 'ANON_KEY_EXPIRED')
  t.equal((await useKey(app, newest)).statusCode, 200)
  t.equal((await useKey(app, old)).statusCode, 200)
  assertError(t, await useKey(app, current), 401, 'ANON_KEY_EXPIRED')
})

t.test('apiKeyHeader: true also reads the key from the apikey header', async (t) => {
  const app = await startApp(t, { apiKeyHeader: true })
  const key = await currentKey(app)
  const response = await app.inject({ url: '/data', headers: { apikey: key } })
  t.equal(response.statusCode, 200, `client got ${response.statusCode} ${response.body}`)
  t.equal(response.json().anonKey.fingerprint, fingerprintOf(key))
  assertError(t, await app.inject({ url: '/data', headers: { apikey: 'anon_bad' } }), 401, 'AUTH_INVALID_CREDENTIALS')
})

t.test('apiKeyHeader names a custom header, in any case', async (t) => {
  const app = await startApp(t, { apiKeyHeader: 'X-Anon-Key' })
  const key = await currentKey(app)
  t.equal((await app.inject({ url: '/data', headers: { 'x-anon-key': key } })).statusCode, 200)
  assertError(t, await app.inject({ url: '/data', headers: { apikey: key } }), 401, 'AUTH_INVALID_CREDENTIALS')
})

t.test('with apiKeyHeader, a present apikey header is the key judged, whatever Authorization carries', async (t) => {
  const app = await startApp(t, { apiKeyHeader: true })
  const key = await currentKey(app)
  // Supabase clients send the anon key in apikey and the signed-in user's JWT in Authorization.
  const supabase = await app.inject({ url: '/data', headers: { authorization: `Bearer ${adminToken({ role: 'authenticated' })}`, apikey: key } })
  t.equal(supabase.statusCode, 200, `apikey + a user JWT: client got ${supabase.statusCode} ${supabase.body}`)
  t.equal(supabase.json().anonKey.fingerprint, fingerprintOf(key))
  t.equal((await app.inject({ url: '/data', headers: { authorization: 'Bearer anon_wrong', apikey: key } })).statusCode, 200)
  for (const apikey of ['junk', '', `Bearer ${key}`, `anon_${'0'.repeat(64)}`]) {
    assertError(t, await app.inject({ url: '/data', headers: { authorization: `Bearer ${key}`, apikey } }), 401, 'AUTH_INVALID_CREDENTIALS')
  }
  t.equal((await app.inject({ url: '/data', headers: { authorization: `Bearer ${key}` } })).statusCode, 200, 'without apikey, Authorization is read')
})

t.test('with apiKeyHeader, a 401 names the header the key came in, or both when none was sent', async (t) => {
  const refused = async (app: FastifyInstance, headers: Record<string, string>): Promise<{ message: string, nextActions: string }> => {
    const response = await app.inject({ url: '/data', headers })
    assertError(t, response, 401, 'AUTH_INVALID_CREDENTIALS')
    return response.json()
  }
  const app = await startApp(t, { apiKeyHeader: true })
  const fromApikey = await refused(app, { apikey: 'anon_bad' })
  t.equal(fromApikey.message, 'A valid anon key is required in the apikey header.')
  t.equal(fromApikey.nextActions, 'Send the project\'s anon key in the apikey header.')
  const none = await refused(app, {})
  t.equal(none.message, 'A valid anon key is required in the apikey header or in the Authorization header as "Bearer anon_…".')
  const custom = await startApp(t, { apiKeyHeader: 'X-Anon-Key' })
  t.equal((await refused(custom, { 'x-anon-key': 'nope' })).message, 'A valid anon key is required in the x-anon-key header.')
})

t.test('the apikey header is ignored unless apiKeyHeader is set', async (t) => {
  const app = await startApp(t)
  const key = await currentKey(app)
  assertError(t, await app.inject({ url: '/data', headers: { apikey: key } }), 401, 'AUTH_INVALID_CREDENTIALS')
})

t.test('apiKeyHeader: false reads only the Authorization header', async (t) => {
  const app = await startApp(t, { apiKeyHeader: false })
  const key = await currentKey(app)
  assertError(t, await app.inject({ url: '/data', headers: { apikey: key } }), 401, 'AUTH_INVALID_CREDENTIALS')
})

t.test('a host error handler receives a refusal with statusCode 401 and its code', async (t) => {
  const app = await hostApp(t)
  app.setErrorHandler((error: any, request, reply) => {
    reply.code(error.statusCode).send({ hostSaw: error.code, message: error.message })
  })
  app.get('/rows', { onRequest: app.verifyAnonKey }, async () => ({ ok: true }))
  await app.ready()
  const response = await app.inject({ url: '/rows' })
  t.equal(response.statusCode, 401)
  t.same(response.json(), { hostSaw: 'AUTH_INVALID_CREDENTIALS', message: 'A valid anon key is required in the Authorization header as "Bearer anon_…".' })
})

t.test('a refusal of verifyAnonKey has the contract format over a real socket too', async (t) => {
  const app = await startApp(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address() as { port: number }
  const response = await fetch(`http://127.0.0.1:${address.port}/data`, { headers: { authorization: 'Bearer anon_x' } })
  t.equal(response.status, 401)
  t.match(response.headers.get('content-type'), /^application\/json/)
  const body = await response.json()
  t.same(body, {
    error: 'AUTH_INVALID_CREDENTIALS',
    message: 'A valid anon key is required in the Authorization header as "Bearer anon_…".',
    statusCode: 401,
    nextActions: 'Send a valid credential in the Authorization header as "Bearer <token>".'
  })
})

t.test('request.anonKey is null on every request the hook did not verify, and never carries over', async (t) => {
  const app = await hostApp(t)
  app.get('/guarded', { onRequest: app.verifyAnonKey }, async (request) => ({ anonKey: request.anonKey }))
  app.get('/open', async (request) => ({ anonKey: request.anonKey, declared: 'anonKey' in request }))
  app.setNotFoundHandler(async (request, reply) => reply.code(404).send({ anonKey: request.anonKey }))
  await app.ready()
  const key = (await app.anonKey.get()) as string
  for (let i = 0; i < 3; i++) {
    t.equal((await app.inject({ url: '/guarded', headers: bearer(key) })).json().anonKey.fingerprint, fingerprintOf(key))
    t.same((await app.inject({ url: '/open', headers: bearer(key) })).json(), { anonKey: null, declared: true })
    t.same((await app.inject({ url: '/missing', headers: bearer(key) })).json(), { anonKey: null })
  }
  t.ok(app.hasRequestDecorator('anonKey'))
})

t.test('a host hook may still set request.anonKey itself, as it could before', async (t) => {
  const app = await hostApp(t)
  app.get('/assigned', {
    onRequest: (request, reply, done) => {
      request.anonKey = { role: 'anon', name: 'default', fingerprint: 'host-chosen', expiresAt: null }
      done()
    }
  }, async (request) => ({ anonKey: request.anonKey }))
  await app.ready()
  t.same((await app.inject({ url: '/assigned' })).json().anonKey, { role: 'anon', name: 'default', fingerprint: 'host-chosen', expiresAt: null })
})

t.test('the admin guard and verifyAnonKey read the Bearer scheme the same way', async (t) => {
  const app = await startApp(t)
  const key = await currentKey(app)
  const token = adminToken()
  const spellings = ['Bearer ', 'bearer ', 'BEARER ', 'bEaReR ', 'Bearer  ', 'Bearer\t', 'Bearer', ' Bearer ', 'Bearer: ', 'Basic ']
  for (const spelling of spellings) {
    const asAnon = (await app.inject({ url: '/data', headers: { authorization: spelling + key } })).statusCode
    const asAdmin = (await app.inject({ url: '/api/metadata/anon-key', headers: { authorization: spelling + token } })).statusCode
    t.equal(asAnon === 200, asAdmin === 200, `${JSON.stringify(spelling)}: anon key ${asAnon}, admin token ${asAdmin}`)
    t.equal(asAnon === 200, /^bearer $/i.test(spelling), `${JSON.stringify(spelling)} is read only when it is the scheme and one space`)
  }
  assertError(t, await app.inject({ url: '/api/metadata/anon-key', headers: { authorization: `Bearer ${token} ` } }), 401, 'AUTH_INVALID_CREDENTIALS')
})

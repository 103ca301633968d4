import fastifyAuth from '@fastify/auth'
import Fastify, { type FastifyReply, type FastifyRequest, type HookHandlerDoneFunction } from 'fastify'
import t from 'tap'
import { assertError, bearer, JWT_SECRET } from '../helpers/app.js'
import anonKey from '../../lib/index.js'
import { fingerprintOf } from '../../lib/stores/index.js'

/** Another strategy: a service token in x-service-token. */
function serviceToken (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
  if (request.headers['x-service-token'] === 'service-secret') {
    done()
    return
  }
  done(Object.assign(new Error('A service token is required.'), { statusCode: 401 }))
}

async function appWithAuth (t: { teardown: (fn: () => unknown) => void }, relation: 'or' | 'and' = 'or') {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(anonKey, { jwt: { secret: JWT_SECRET } })
  await app.register(fastifyAuth)
  app.get('/rows', { onRequest: app.auth([serviceToken, app.verifyAnonKey], { relation }) }, async (request) => ({ anonKey: request.anonKey }))
  await app.ready()
  return { app, key: (await app.anonKey.get()) as string }
}

t.test('inside @fastify/auth, a request with a valid anon key passes and gets request.anonKey', async (t) => {
  const { app, key } = await appWithAuth(t)
  const response = await app.inject({ url: '/rows', headers: bearer(key) })
  t.equal(response.statusCode, 200, `client got ${response.statusCode} ${response.body}`)
  t.same(response.json(), { anonKey: { role: 'anon', name: 'default', fingerprint: fingerprintOf(key), expiresAt: null } })
})

t.test('inside @fastify/auth, a request that passes the other strategy gets in without an anon key', async (t) => {
  const { app } = await appWithAuth(t)
  const response = await app.inject({ url: '/rows', headers: { 'x-service-token': 'service-secret' } })
  t.equal(response.statusCode, 200, `client got ${response.statusCode} ${response.body}`)
  t.same(response.json(), { anonKey: null })
})

t.test('inside @fastify/auth, a request that passes neither strategy answers 401 in the contract format', async (t) => {
  const { app } = await appWithAuth(t)
  assertError(t, await app.inject({ url: '/rows' }), 401, 'AUTH_INVALID_CREDENTIALS')
  assertError(t, await app.inject({ url: '/rows', headers: { ...bearer('anon_nope'), 'x-service-token': 'wrong' } }), 401, 'AUTH_INVALID_CREDENTIALS')
})

t.test('inside @fastify/auth, an expired anon key answers 401 ANON_KEY_EXPIRED when no strategy passes', async (t) => {
  const { app, key } = await appWithAuth(t)
  await app.anonKey.rotate({ gracePeriodHours: 0 })
  assertError(t, await app.inject({ url: '/rows', headers: bearer(key) }), 401, 'ANON_KEY_EXPIRED')
})

t.test("with @fastify/auth's and relation, both the service token and the anon key are needed", async (t) => {
  const { app, key } = await appWithAuth(t, 'and')
  const both = await app.inject({ url: '/rows', headers: { ...bearer(key), 'x-service-token': 'service-secret' } })
  t.equal(both.statusCode, 200, `client got ${both.statusCode} ${both.body}`)
  assertError(t, await app.inject({ url: '/rows', headers: { 'x-service-token': 'service-secret' } }), 401, 'AUTH_INVALID_CREDENTIALS')
})

import fastifyAuth from '@fastify/auth'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type HookHandlerDoneFunction } from 'fastify'
import t from 'tap'
import { adminToken, assertError, bearer, JWT_SECRET } from '../helpers/app.js'
import anonKey, { verifyAnonKey } from '../../lib/index.js'

const MESSAGE = 'A valid anon key is required in the Authorization header as "Bearer anon_…".'

/** An app whose route is guarded by verifyAnonKey, with the plugin registered and a key known. */
async function guarded (t: { teardown: (fn: () => unknown) => void }, setUp: (app: FastifyInstance) => void = () => {}) {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(anonKey, { jwt: { secret: JWT_SECRET } })
  setUp(app)
  app.get('/rows', { onRequest: verifyAnonKey }, async () => ({ ok: true }))
  await app.ready()
  return { app, key: (await app.anonKey.get()) as string }
}

/** The three 401s of verifyAnonKey: a missing key, a previous key past its grace, a revoked previous key. */
async function threeRefusals (app: FastifyInstance, key: string) {
  const missing = await app.inject({ url: '/rows' })
  await app.anonKey.rotate({ gracePeriodHours: 0 })
  const expired = await app.inject({ url: '/rows', headers: bearer(key) })
  const second = (await app.anonKey.get()) as string
  await app.anonKey.rotate({ gracePeriodHours: 1 })
  await app.anonKey.revokePrevious()
  const revoked = await app.inject({ url: '/rows', headers: bearer(second) })
  return { missing, expired, revoked }
}

t.test('a host error handler that appends to a refusal\'s message never changes the next client\'s 401', async (t) => {
  let handled = 0
  const { app } = await guarded(t, (host) => {
    host.setErrorHandler((error: any, request, reply) => {
      handled++
      error.message += ` (request ${request.id}, secret trace ${'x'.repeat(20)})`
      error.nextActions = 'changed by the host'
      error.tagged = true
      reply.code(error.statusCode).send({ error: error.code, message: error.message, statusCode: error.statusCode })
    })
  })
  const messages = new Set<string>()
  for (let i = 0; i < 50; i++) {
    const response = await app.inject({ url: '/rows', headers: bearer(i % 2 === 0 ? 'anon_nope' : `anon_${'c'.repeat(64)}`) })
    t.equal(response.statusCode, 401)
    messages.add(response.json().message)
    t.equal(response.json().message.length, MESSAGE.length + ` (request ${response.json().message.split('request ')[1]}`.length, 'the message carries one suffix, its own')
  }
  t.equal(handled, 50)
  t.equal(messages.size, 50, 'each client saw only its own request in the message')
})

t.test('an onError hook that appends to refusals shows only its own change, once, in each answer', async (t) => {
  const { app } = await guarded(t, (host) => {
    host.addHook('onError', async (request, reply, error: any) => { error.message += ' tampered' })
  })
  for (let i = 0; i < 5; i++) {
    const response = await app.inject({ url: '/rows' })
    t.equal(response.statusCode, 401, `client got ${response.statusCode} ${response.body}`)
    t.equal(response.json().message, `${MESSAGE} tampered`, 'no earlier request\'s change shows')
  }
  // A fresh app-level check: a plain refusal keeps the exact contract body.
  const clean = await guarded(t)
  assertError(t, await clean.app.inject({ url: '/rows' }), 401, 'AUTH_INVALID_CREDENTIALS')
  t.equal((await clean.app.inject({ url: '/rows' })).json().message, MESSAGE)
})

t.test('every 401 of verifyAnonKey carries WWW-Authenticate: Bearer (missing, expired and revoked keys)', async (t) => {
  const { app, key } = await guarded(t)
  const refusals = await threeRefusals(app, key)
  for (const [name, response] of Object.entries(refusals)) {
    t.equal(response.statusCode, 401, `${name}: client got ${response.statusCode} ${response.body}`)
    t.equal(response.headers['www-authenticate'], 'Bearer', `${name} carries WWW-Authenticate`)
  }
  assertError(t, refusals.expired, 401, 'ANON_KEY_EXPIRED')
  assertError(t, refusals.revoked, 401, 'ANON_KEY_REVOKED')
  const ok = await app.inject({ url: '/rows', headers: bearer((await app.anonKey.get()) as string) })
  t.equal(ok.statusCode, 200)
  t.equal(ok.headers['www-authenticate'], undefined, 'a verified request carries none')
})

t.test('with a host error handler, the 401 keeps WWW-Authenticate: Bearer', async (t) => {
  const { app, key } = await guarded(t, (host) => {
    host.setErrorHandler((error: any, request, reply) => { reply.code(error.statusCode).send({ host: true, code: error.code }) })
  })
  for (const [name, response] of Object.entries(await threeRefusals(app, key))) {
    t.equal(response.statusCode, 401, `${name}: client got ${response.statusCode} ${response.body}`)
    t.equal(response.headers['www-authenticate'], 'Bearer', `${name} carries WWW-Authenticate`)
  }
})

t.test('inside @fastify/auth, the 401 carries WWW-Authenticate: Bearer whichever strategy failed last', async (t) => {
  const userJwt = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    done(Object.assign(new Error('no user'), { statusCode: 401 }))
  }
  const { app } = await guarded(t, (host) => {
    host.register(fastifyAuth)
    host.after(() => {
      host.get('/anon-last', { onRequest: host.auth([userJwt, verifyAnonKey]) }, async () => ({ ok: true }))
      host.get('/anon-first', { onRequest: host.auth([verifyAnonKey, userJwt]) }, async () => ({ ok: true }))
      host.get('/both', { onRequest: host.auth([verifyAnonKey, userJwt], { relation: 'and' }) }, async () => ({ ok: true }))
    })
  })
  for (const url of ['/anon-last', '/anon-first', '/both']) {
    const response = await app.inject({ url, headers: bearer(adminToken()) })
    t.equal(response.statusCode, 401, `${url}: client got ${response.statusCode} ${response.body}`)
    t.equal(response.headers['www-authenticate'], 'Bearer', `${url} carries WWW-Authenticate`)
  }
  assertError(t, await app.inject({ url: '/anon-last' }), 401, 'AUTH_INVALID_CREDENTIALS')
})

t.test('the refusal handed to a host error handler is a fresh object each time', async (t) => {
  const seen: unknown[] = []
  const { app } = await guarded(t, (host) => {
    host.setErrorHandler((error, request, reply) => {
      seen.push(error)
      reply.code(401).send(error)
    })
  })
  await app.inject({ url: '/rows' })
  await app.inject({ url: '/rows' })
  t.equal(seen.length, 2)
  t.not(seen[0], seen[1], 'two requests never share one refusal object')
})

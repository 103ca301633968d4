import fastifyJwt from '@fastify/jwt'
import { createSigner } from 'fast-jwt'
import Fastify from 'fastify'
import t from 'tap'
import { adminHeaders, assertError, JWT_SECRET } from '../helpers/app.js'
import anonKey from '../../lib/index.js'

const HOST_SECRET = 'the-host-application-own-secret-xyz'
const hostToken = createSigner({ key: HOST_SECRET })({ role: 'project_admin', sub: 'host-user' })

t.test('no jwt decorator leaks into a host that has none', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(anonKey, { jwt: { secret: JWT_SECRET } })
  app.get('/probe', async (request, reply) => ({
    requestJwtVerify: typeof (request as any).jwtVerify,
    replyJwtSign: typeof (reply as any).jwtSign
  }))
  await app.ready()
  t.notOk(app.hasDecorator('jwt'), 'app.jwt should not exist')
  t.notOk(app.hasRequestDecorator('jwtVerify'), 'request.jwtVerify should not exist')
  t.notOk(app.hasReplyDecorator('jwtSign'), 'reply.jwtSign should not exist')
  t.same((await app.inject({ url: '/probe' })).json(), { requestJwtVerify: 'undefined', replyJwtSign: 'undefined' })
  t.ok(app.hasDecorator('anonKey') && app.hasDecorator('verifyAnonKey'), 'only anonKey and verifyAnonKey are decorated')
  t.ok(app.hasRequestDecorator('anonKey'))
})

for (const order of ['before', 'after'] as const) {
  t.test(`a host that registers its own @fastify/jwt ${order} the plugin keeps its own secret and jwt object`, async (t) => {
    const app = Fastify()
    t.teardown(() => app.close())
    if (order === 'before') await app.register(fastifyJwt, { secret: HOST_SECRET })
    const hostJwt = order === 'before' ? app.jwt : undefined
    await app.register(anonKey, { jwt: { secret: JWT_SECRET } })
    if (order === 'after') await app.register(fastifyJwt, { secret: HOST_SECRET })
    app.get('/me', async (request) => {
      await request.jwtVerify()
      return { user: request.user }
    })
    await app.ready()
    if (hostJwt !== undefined) t.equal(app.jwt, hostJwt, "the host's jwt object is the same object")

    const hostRoute = await app.inject({ url: '/me', headers: { authorization: `Bearer ${hostToken}` } })
    t.equal(hostRoute.statusCode, 200, `the host's route should verify the host's token; got ${hostRoute.statusCode} ${hostRoute.body}`)
    t.equal(hostRoute.json().user.sub, 'host-user')
    t.equal((await app.inject({ url: '/me', headers: adminHeaders() })).statusCode, 401, "the host's route refuses a token signed with the plugin's secret")
    t.ok(app.jwt.verify(app.jwt.sign({ a: 1 })), "the host's jwt signs and verifies with its own secret")

    t.equal((await app.inject({ url: '/api/metadata/anon-key', headers: adminHeaders() })).statusCode, 200, 'admin routes verify with the plugin secret')
    assertError(t, await app.inject({ url: '/api/metadata/anon-key', headers: { authorization: `Bearer ${hostToken}` } }), 401, 'AUTH_INVALID_CREDENTIALS')
  })
}

t.test("the host's error handler is untouched, and the admin routes keep the contract format", async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.setErrorHandler((error: Error, request, reply) => {
    reply.code(418).send({ host: 'handled', message: error.message })
  })
  await app.register(anonKey, { jwt: { secret: JWT_SECRET } })
  app.get('/boom', async () => { throw new Error('host failure') })
  await app.ready()
  t.same((await app.inject({ url: '/boom' })).json(), { host: 'handled', message: 'host failure' })
  assertError(t, await app.inject({ url: '/api/metadata/anon-key' }), 401, 'AUTH_INVALID_CREDENTIALS')
  assertError(t, await app.inject({
    method: 'POST',
    url: '/api/secrets/anon-key/rotate',
    headers: { ...adminHeaders(), 'content-type': 'application/json' },
    payload: 'null'
  }), 400, 'INVALID_INPUT')
})

t.test("the host's content-type parsers are untouched", async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.addContentTypeParser('application/x-custom', { parseAs: 'string' }, (request, body, done) => {
    done(null, { custom: String(body).toUpperCase() })
  })
  await app.register(anonKey, { jwt: { secret: JWT_SECRET } })
  app.post('/echo', async (request) => ({ body: request.body }))
  await app.ready()

  const text = await app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'text/plain' }, payload: 'hello' })
  t.same(text.json(), { body: 'hello' }, "the host's text/plain route still works")
  const custom = await app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/x-custom' }, payload: 'abc' })
  t.same(custom.json(), { body: { custom: 'ABC' } }, "the host's custom parser is still used")
  const json = await app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: '{"a":1}' })
  t.same(json.json(), { body: { a: 1 } })
  const emptyJson = await app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: '' })
  t.equal(emptyJson.statusCode, 400, "the host keeps Fastify's own JSON parser, which refuses an empty JSON body")
  t.equal(emptyJson.json().code, 'FST_ERR_CTP_EMPTY_JSON_BODY')
  const big = await app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ a: 'x'.repeat(5000) }) })
  t.equal(big.statusCode, 200, "the plugin's small body limit does not apply to host routes")
})

t.test("the host's hooks, validator and routes are untouched", async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  const seen: string[] = []
  app.addHook('onRequest', async (request) => { seen.push(request.url) })
  await app.register(anonKey, { jwt: { secret: JWT_SECRET } })
  app.get('/hours', { schema: { querystring: { type: 'object', properties: { n: { type: 'integer' } } } } }, async (request) => ({ query: request.query }))
  app.post('/strip', { schema: { body: { type: 'object', properties: { a: { type: 'integer' } }, additionalProperties: false } } }, async (request) => ({ body: request.body }))
  await app.ready()

  const hours = await app.inject({ url: '/hours?n=24' })
  t.equal(hours.statusCode, 200, 'host routes need no admin token')
  t.same(hours.json(), { query: { n: 24 } }, "the host's validator still coerces")
  const strip = await app.inject({ method: 'POST', url: '/strip', payload: { a: 1, extra: true } })
  t.same(strip.json(), { body: { a: 1 } }, "the host's validator still strips unknown properties")
  await app.inject({ url: '/api/metadata/anon-key', headers: adminHeaders() })
  t.same(seen, ['/hours?n=24', '/strip', '/api/metadata/anon-key'], "the host's onRequest hook runs for every route, its own and the plugin's")
  t.equal((await app.inject({ url: '/nowhere' })).json().message, 'Route GET:/nowhere not found', "the host's 404 is Fastify's own")
})

t.test('two plugin instances in sibling contexts keep separate keys and prefixes', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(async (tenantA) => { await tenantA.register(anonKey, { jwt: { secret: JWT_SECRET }, prefix: '/a' }) })
  app.register(async (tenantB) => { await tenantB.register(anonKey, { jwt: { secret: JWT_SECRET }, prefix: '/b' }) })
  await app.ready()
  const a = (await app.inject({ url: '/a/metadata/anon-key', headers: adminHeaders() })).json().anonKey
  const b = (await app.inject({ url: '/b/metadata/anon-key', headers: adminHeaders() })).json().anonKey
  t.match(a, /^anon_/)
  t.match(b, /^anon_/)
  t.not(a, b)
})

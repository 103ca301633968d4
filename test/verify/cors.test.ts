import cors from '@fastify/cors'
import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import anonKey, { verifyAnonKey } from '../../lib/index.js'
import { adminHeaders, assertError, JWT_SECRET } from '../helpers/app.js'

/** The web app's origins: the same list restricts the key and opens CORS, as docs/browsers.md does it. */
const WEB_ORIGINS = ['https://app.example.com', 'https://*.preview.example.com']
/** @fastify/cors takes a wildcard origin as a RegExp: any subdomain, at any depth, never the domain itself. */
const CORS_ORIGINS = ['https://app.example.com', /^https:\/\/([a-z0-9-]+\.)+preview\.example\.com$/]

/** The recipe of docs/browsers.md: @fastify/cors first, then the plugin, then the routes; `web` restricted to the origins. */
async function browserApp (t: Test, guardEveryRoute = false): Promise<{ app: FastifyInstance, webKey: string }> {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(cors, {
    origin: CORS_ORIGINS,
    methods: ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE'],
    allowedHeaders: ['authorization', 'apikey', 'content-type'],
    exposedHeaders: ['anon-key-expires-at']
  })
  await app.register(anonKey, { jwt: { secret: JWT_SECRET }, apiKeyHeader: true })
  if (guardEveryRoute) app.addHook('onRequest', verifyAnonKey)
  app.get('/api/todos', { onRequest: guardEveryRoute ? [] : verifyAnonKey }, async (request) => ({ role: request.anonKey?.role, name: request.anonKey?.name }))
  await app.ready()
  const { anonKey: webKey } = await app.anonKey.createKey({ name: 'web', allowedOrigins: WEB_ORIGINS })
  return { app, webKey }
}

/** The names a CORS header lists, in lower case. */
function listOf (header: unknown): string[] {
  return String(header ?? '').toLowerCase().split(',').map((name) => name.trim()).filter((name) => name !== '')
}

/** A browser's preflight before a fetch from `origin` that sends `headers`. */
function preflight (app: FastifyInstance, origin: string, headers = 'authorization', method = 'GET', url = '/api/todos') {
  return app.inject({ method: 'OPTIONS', url, headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': headers } })
}

t.test('a preflight from the web app for Authorization or apikey passes; from another origin it is not allowed', async (t) => {
  const { app } = await browserApp(t)
  for (const [origin, headers] of [['https://app.example.com', 'authorization'], ['https://pr-12.preview.example.com', 'apikey'], ['https://a.b.preview.example.com', 'authorization,content-type']]) {
    const answer = await preflight(app, origin, headers)
    t.equal(answer.statusCode, 204, `${origin} asking for ${headers}`)
    t.equal(answer.headers['access-control-allow-origin'], origin)
    t.same(listOf(answer.headers['access-control-allow-headers']), ['authorization', 'apikey', 'content-type'])
  }
  for (const origin of ['https://evil.example', 'https://preview.example.com', 'https://x.preview.example.com.evil.com', 'http://app.example.com']) {
    const answer = await preflight(app, origin)
    t.notOk(answer.headers['access-control-allow-origin'], `${origin} gets no Access-Control-Allow-Origin, so the browser sends nothing`)
  }
})

t.test('the real request from the web app is answered with CORS headers, refusals included, and exposes Anon-Key-Expires-At', async (t) => {
  const { app, webKey } = await browserApp(t)
  const origin = 'https://app.example.com'
  const ok = await app.inject({ url: '/api/todos', headers: { origin, authorization: `Bearer ${webKey}` } })
  t.equal(ok.statusCode, 200, ok.body)
  t.same(ok.json(), { role: 'anon', name: 'web' })
  t.equal(ok.headers['access-control-allow-origin'], origin)
  t.same(listOf(ok.headers['access-control-expose-headers']), ['anon-key-expires-at'])

  await app.anonKey.rotate({ name: 'web', gracePeriodHours: 24 })
  const old = await app.inject({ url: '/api/todos', headers: { origin, apikey: webKey } })
  t.equal(old.statusCode, 200, 'the old key in apikey still verifies during its grace')
  t.ok(old.headers['anon-key-expires-at'], 'and says until when, in a header the browser lets the app read')
  t.equal(old.headers['access-control-allow-origin'], origin)

  const refused = await app.inject({ url: '/api/todos', headers: { origin } })
  assertError(t, refused, 401, 'AUTH_INVALID_CREDENTIALS')
  t.equal(refused.headers['access-control-allow-origin'], origin, 'a refusal carries CORS headers too, so the app can read why')

  const elsewhere = await app.inject({ url: '/api/todos', headers: { origin: 'https://evil.example', authorization: `Bearer ${(await app.anonKey.getKey('web')).anonKey}` } })
  assertError(t, elsewhere, 403, 'ANON_KEY_ORIGIN_NOT_ALLOWED')
  t.notOk(elsewhere.headers['access-control-allow-origin'])
})

t.test('with verifyAnonKey on every route, a preflight still passes when @fastify/cors is registered first', async (t) => {
  const { app, webKey } = await browserApp(t, true)
  t.equal((await preflight(app, 'https://app.example.com')).statusCode, 204, 'the preflight, which carries no key, is answered before verifyAnonKey')
  const answer = await app.inject({ url: '/api/todos', headers: { origin: 'https://app.example.com', authorization: `Bearer ${webKey}` } })
  t.equal(answer.statusCode, 200, answer.body)
})

t.test('an admin page in the browser may call the admin routes: preflights for PATCH and DELETE with a JSON body pass', async (t) => {
  const { app } = await browserApp(t)
  for (const [method, url] of [['PATCH', '/api/secrets/anon-keys/web'], ['DELETE', '/api/secrets/anon-key/previous'], ['POST', '/api/secrets/anon-key/rotate']]) {
    const answer = await preflight(app, 'https://app.example.com', 'authorization,content-type', method, url)
    t.equal(answer.statusCode, 204, `${method} ${url}`)
    t.ok(listOf(answer.headers['access-control-allow-methods']).includes(method.toLowerCase()), `${method} is allowed`)
  }
  const listed = await app.inject({ url: '/api/secrets/anon-keys', headers: { origin: 'https://app.example.com', ...adminHeaders() } })
  t.equal(listed.statusCode, 200)
  t.equal(listed.headers['access-control-allow-origin'], 'https://app.example.com')
})

t.test('registered after a verifyAnonKey hook of the same context, @fastify/cors comes too late: the preflight gets 401', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(anonKey, { jwt: { secret: JWT_SECRET } })
  app.addHook('onRequest', verifyAnonKey)
  await app.register(cors, { origin: CORS_ORIGINS, allowedHeaders: ['authorization'] })
  app.get('/api/todos', async () => ({}))
  await app.ready()
  assertError(t, await preflight(app, 'https://app.example.com'), 401, 'AUTH_INVALID_CREDENTIALS')
})

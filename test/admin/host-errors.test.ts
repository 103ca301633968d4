import rateLimit from '@fastify/rate-limit'
import Fastify, { type FastifyInstance } from 'fastify'
import t from 'tap'
import { adminHeaders, assertError, JWT_SECRET } from '../helpers/app.js'
import anonKey, { type FastifyAnonKeyOptions } from '../../lib/index.js'

const URL = '/api/metadata/anon-key'

/** An app whose host adds `setup` (a plugin, a hook) before registering the anon key plugin. */
async function hostApp (
  t: { teardown: (fn: () => unknown) => void },
  setup: (app: FastifyInstance) => Promise<void> | void,
  options: FastifyAnonKeyOptions = {}
): Promise<{ app: FastifyInstance, lines: any[] }> {
  const lines: any[] = []
  const app = Fastify({ logger: { level: 'info', stream: { write: (line: string) => { lines.push(JSON.parse(line)) } } } })
  t.teardown(() => app.close())
  await setup(app)
  await app.register(anonKey, { jwt: { secret: JWT_SECRET }, ...options })
  await app.ready()
  return { app, lines }
}

const errorLogs = (lines: any[]): any[] => lines.filter((line) => line.level >= 50)

t.test('a host-wide @fastify/rate-limit answers 429 RATE_LIMITED on admin routes, with Retry-After, not a 500', async (t) => {
  const { app, lines } = await hostApp(t, async (app) => { await app.register(rateLimit, { max: 2, timeWindow: 60_000 }) })
  for (let i = 0; i < 2; i++) t.equal((await app.inject({ url: URL, headers: adminHeaders() })).statusCode, 200)
  const limited = await app.inject({ url: URL, headers: adminHeaders() })
  assertError(t, limited, 429, 'RATE_LIMITED')
  t.match(limited.headers['retry-after'], /^\d+$/, 'Retry-After tells the client how long to wait')
  t.equal(limited.headers['x-ratelimit-remaining'], '0', 'the rate limit\'s other headers stay')
  t.match(limited.json().message, /Rate limit exceeded/, 'the host\'s message is kept')
  const rotate = await app.inject({ method: 'POST', url: '/api/secrets/anon-key/rotate', headers: adminHeaders() })
  assertError(t, rotate, 429, 'RATE_LIMITED')
  t.same(errorLogs(lines), [], 'a host\'s 429 is not logged as an error')
})

const hostStatuses: Array<[number, string]> = [
  [503, 'SERVICE_UNAVAILABLE'],
  [410, 'GONE'],
  [429, 'RATE_LIMITED'],
  [404, 'NOT_FOUND'],
  [405, 'METHOD_NOT_ALLOWED'],
  [408, 'REQUEST_TIMEOUT'],
  [418, 'CLIENT_ERROR'],
  [451, 'CLIENT_ERROR'],
  [501, 'NOT_IMPLEMENTED'],
  [502, 'BAD_GATEWAY'],
  [504, 'GATEWAY_TIMEOUT'],
  [507, 'SERVER_ERROR']
]

for (const [status, code] of hostStatuses) {
  t.test(`a host hook that throws ${status} gets ${status} ${code} with its headers, in the contract's format`, async (t) => {
    const { app, lines } = await hostApp(t, (app) => {
      app.addHook('onRequest', async () => {
        throw Object.assign(new Error('Down for maintenance until 03:00 UTC'), { statusCode: status, headers: { 'retry-after': '120' } })
      })
    })
    const response = await app.inject({ url: URL, headers: adminHeaders() })
    assertError(t, response, status, code)
    t.equal(response.headers['retry-after'], '120', 'the error\'s headers are kept')
    t.equal(response.json().message, 'Down for maintenance until 03:00 UTC')
    t.same(errorLogs(lines), [], 'a host\'s deliberate status is not a plugin fault')
  })
}

t.test('an error with http-errors\' `status` keeps that status', async (t) => {
  const { app } = await hostApp(t, (app) => {
    app.addHook('preHandler', async () => { throw Object.assign(new Error('Service Unavailable'), { status: 503, expose: true }) })
  })
  assertError(t, await app.inject({ url: URL, headers: adminHeaders() }), 503, 'SERVICE_UNAVAILABLE')
})

t.test('authorize throwing 429 with Retry-After answers 429 RATE_LIMITED with the header', async (t) => {
  const { app } = await hostApp(t, () => {}, {
    authorize: () => { throw Object.assign(new Error('Too many admin calls'), { statusCode: 429, headers: { 'Retry-After': '30' } }) }
  })
  const response = await app.inject({ url: URL })
  assertError(t, response, 429, 'RATE_LIMITED')
  t.equal(response.headers['retry-after'], '30')
})

t.test('authorize throwing 401 answers 401 with WWW-Authenticate: Bearer, and keeps a Bearer challenge of its own', async (t) => {
  const { app } = await hostApp(t, () => {}, {
    authorize: (request) => {
      throw Object.assign(new Error('no session'), { statusCode: 401, headers: request.headers['x-realm'] === undefined ? {} : { 'www-authenticate': 'Bearer realm="admin"' } })
    }
  })
  const plain = await app.inject({ url: URL })
  assertError(t, plain, 401, 'AUTH_INVALID_CREDENTIALS')
  t.equal(plain.headers['www-authenticate'], 'Bearer')
  t.equal((await app.inject({ url: URL, headers: { 'x-realm': '1' } })).headers['www-authenticate'], 'Bearer realm="admin"')
})

t.test('a host error asking for 500 is an INTERNAL_ERROR that hides its message', async (t) => {
  const { app, lines } = await hostApp(t, (app) => {
    app.addHook('onRequest', async () => { throw Object.assign(new Error('pg: password authentication failed for user "app"'), { statusCode: 500 }) })
  })
  const response = await app.inject({ url: URL, headers: adminHeaders() })
  assertError(t, response, 500, 'INTERNAL_ERROR')
  t.notMatch(response.body, /password|pg:/)
  t.equal(errorLogs(lines).length, 1, 'and is logged as an error')
})

t.test('a status outside 400-599 is not trusted: 500 INTERNAL_ERROR', async (t) => {
  const { app } = await hostApp(t, (app) => {
    app.addHook('onRequest', async () => { throw Object.assign(new Error('odd'), { statusCode: 302 }) })
  })
  assertError(t, await app.inject({ url: URL, headers: adminHeaders() }), 500, 'INTERNAL_ERROR')
})

t.test('a host 5xx without a message gets a generic one', async (t) => {
  const { app, lines } = await hostApp(t, (app) => {
    app.addHook('onRequest', async () => { throw Object.assign(new Error(''), { statusCode: 503 }) })
  })
  const response = await app.inject({ url: URL, headers: adminHeaders() })
  assertError(t, response, 503, 'SERVICE_UNAVAILABLE')
  t.equal(response.json().message, 'The server could not handle the request.')
  t.equal(lines.filter((line) => line.level === 40 && /answered 503 for the host/.test(line.msg)).length, 1, 'logged as a warning')
})

t.test('every 401 of the admin routes carries WWW-Authenticate: Bearer', async (t) => {
  const { app } = await hostApp(t, () => {})
  for (const headers of [{}, { authorization: 'Bearer nope' }, { authorization: 'Basic YTpi' }, { authorization: `Bearer ${'anon_' + 'a'.repeat(64)}` }]) {
    const response = await app.inject({ method: 'DELETE', url: '/api/secrets/anon-key/previous', headers })
    assertError(t, response, 401, 'AUTH_INVALID_CREDENTIALS')
    t.equal(response.headers['www-authenticate'], 'Bearer')
  }
  t.equal((await app.inject({ url: URL, headers: adminHeaders({ role: 'anon' }) })).headers['www-authenticate'], undefined, 'a 403 has no challenge')
})

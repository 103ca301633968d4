import t from 'tap'
import { adminToken, assertError, JWT_SECRET, startApp } from '../helpers/app.js'
import type { FastifyAnonKeyOptions } from '../../lib/index.js'

const URL = '/api/metadata/anon-key'
const ROTATE = '/api/secrets/anon-key/rotate'
const revokedJti = 'token-of-an-admin-who-left'

const denyLists: Array<[string, NonNullable<FastifyAnonKeyOptions['jwt']>['trusted']]> = [
  ['sync', (_request, token) => token.jti !== revokedJti],
  ['async', async (_request, token) => token.jti !== revokedJti]
]

for (const [form, trusted] of denyLists) {
  t.test(`a ${form} jwt.trusted deny-list: a revoked admin token gets 401 and rotates nothing`, async (t) => {
    const app = await startApp(t, { jwt: { secret: JWT_SECRET, trusted } })
    const before = await app.anonKey.get()
    const refused = await app.inject({ method: 'POST', url: ROTATE, headers: { authorization: `Bearer ${adminToken({ jti: revokedJti })}` } })
    assertError(t, refused, 401, 'AUTH_INVALID_CREDENTIALS')
    t.equal(refused.json().message, 'The admin token has been revoked.')
    t.equal(refused.headers['www-authenticate'], 'Bearer')
    t.equal(await app.anonKey.get(), before, 'the key was not rotated')
    const allowed = await app.inject({ method: 'POST', url: ROTATE, headers: { authorization: `Bearer ${adminToken({ jti: 'still-here' })}` } })
    t.equal(allowed.statusCode, 200, `a trusted token still works; client got ${allowed.statusCode} ${allowed.body}`)
  })
}

t.test('jwt.trusted receives the host request and the verified payload', async (t) => {
  const seen: Array<{ url: string, sub: unknown }> = []
  const app = await startApp(t, { jwt: { secret: JWT_SECRET, trusted: (request, token) => { seen.push({ url: request.url, sub: token.sub }); return true } } })
  t.equal((await app.inject({ url: URL, headers: { authorization: `Bearer ${adminToken({ sub: 'alice' })}` } })).statusCode, 200)
  t.same(seen, [{ url: URL, sub: 'alice' }])
})

t.test('jwt.trusted is asked only about tokens that verified', async (t) => {
  let asked = 0
  const app = await startApp(t, { jwt: { secret: JWT_SECRET, trusted: () => { asked++; return true } } })
  assertError(t, await app.inject({ url: URL, headers: { authorization: 'Bearer not-a-jwt' } }), 401, 'AUTH_INVALID_CREDENTIALS')
  t.equal(asked, 0)
})

const brokenDenyLists: Array<[string, NonNullable<FastifyAnonKeyOptions['jwt']>['trusted']]> = [
  ['throws', () => { throw new Error('deny-list database down') }],
  ['rejects', async () => { throw new Error('deny-list database down') }],
  ['resolves to something falsy', async () => 0 as unknown as boolean]
]

for (const [name, trusted] of brokenDenyLists) {
  t.test(`a jwt.trusted that ${name} fails closed: 401, and the process goes on`, async (t) => {
    let unhandled = 0
    const onUnhandled = (): void => { unhandled++ }
    process.on('unhandledRejection', onUnhandled)
    t.teardown(() => { process.off('unhandledRejection', onUnhandled) })
    const app = await startApp(t, { jwt: { secret: JWT_SECRET, trusted } })
    const response = await app.inject({ method: 'POST', url: ROTATE, headers: { authorization: `Bearer ${adminToken()}` } })
    assertError(t, response, 401, 'AUTH_INVALID_CREDENTIALS')
    t.notMatch(response.body, /database/, 'the deny-list\'s error stays on the server')
    await new Promise((resolve) => setImmediate(resolve))
    t.equal(unhandled, 0)
  })
}

t.test('honoured @fastify/jwt options are accepted: sign options, decode options, verify.algorithms, verify.maxAge', async (t) => {
  const app = await startApp(t, { jwt: { secret: JWT_SECRET, sign: { expiresIn: '1h' }, decode: { checkTyp: 'JWT' }, verify: { algorithms: ['HS256'], maxAge: '1h' } } })
  t.equal((await app.inject({ url: URL, headers: { authorization: `Bearer ${adminToken()}` } })).statusCode, 200)
  const old = adminToken({ iat: Math.floor(Date.now() / 1000) - 7200 })
  assertError(t, await app.inject({ url: URL, headers: { authorization: `Bearer ${old}` } }), 401, 'AUTH_INVALID_CREDENTIALS')
})

import { createSigner } from 'fast-jwt'
import type { FastifyRequest } from 'fastify'
import t from 'tap'
import { adminToken, assertError, currentKey, JWT_SECRET, startApp } from '../helpers/app.js'
import type { RotatedEvent } from '../../lib/index.js'

const URL = '/api/metadata/anon-key'

function base64url (value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

const unsignedToken = `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ role: 'project_admin', sub: 'mallory' })}.`

const refused: Array<{ name: string, authorization?: string }> = [
  { name: 'no Authorization header' },
  { name: 'a Basic Authorization header', authorization: 'Basic YWRtaW46YWRtaW4=' },
  { name: 'a token without the Bearer scheme', authorization: adminToken() },
  { name: '"Bearer" alone', authorization: 'Bearer' },
  { name: '"Bearer " with nothing after it', authorization: 'Bearer ' },
  { name: 'two tokens after Bearer', authorization: `Bearer ${adminToken()} ${adminToken()}` },
  { name: 'a token that is not a JWT', authorization: 'Bearer not-a-jwt' },
  { name: 'a JWT signed with another secret', authorization: `Bearer ${createSigner({ key: 'another-secret-of-the-same-length-abcd' })({ role: 'project_admin' })}` },
  { name: 'a JWT with alg none', authorization: `Bearer ${unsignedToken}` },
  { name: 'an expired JWT', authorization: `Bearer ${adminToken({ exp: Math.floor(Date.now() / 1000) - 60 })}` },
  { name: 'a JWT not valid yet', authorization: `Bearer ${adminToken({ nbf: Math.floor(Date.now() / 1000) + 3600 })}` },
  { name: 'a JWT whose signature was cut off', authorization: `Bearer ${adminToken().split('.').slice(0, 2).join('.')}.` }
]

for (const { name, authorization } of refused) {
  t.test(`an admin route answers 401 AUTH_INVALID_CREDENTIALS to ${name}`, async (t) => {
    const app = await startApp(t)
    const response = await app.inject({ url: URL, headers: authorization === undefined ? {} : { authorization } })
    assertError(t, response, 401, 'AUTH_INVALID_CREDENTIALS')
    t.notMatch(response.body, /anon_[0-9a-f]{64}/, 'no key leaks in a refusal')
  })
}

t.test('an expired admin token is named as expired', async (t) => {
  const app = await startApp(t)
  const response = await app.inject({ url: URL, headers: { authorization: `Bearer ${adminToken({ exp: Math.floor(Date.now() / 1000) - 60 })}` } })
  t.equal(response.json().message, 'The admin token has expired.')
})

t.test('an admin route answers 401 AUTH_INVALID_CREDENTIALS to the anon key sent as the admin token', async (t) => {
  const app = await startApp(t)
  const key = await currentKey(app)
  const response = await app.inject({ url: URL, headers: { authorization: `Bearer ${key}` } })
  assertError(t, response, 401, 'AUTH_INVALID_CREDENTIALS')
  t.equal(response.json().message, 'An anon key is not an admin token.')
})

t.test('an admin token in the query string is ignored', async (t) => {
  const app = await startApp(t)
  assertError(t, await app.inject({ url: `${URL}?token=${adminToken()}` }), 401, 'AUTH_INVALID_CREDENTIALS')
})

t.test('the Bearer scheme of an admin token is read in any case', async (t) => {
  const app = await startApp(t)
  const response = await app.inject({ url: URL, headers: { authorization: `bearer ${adminToken()}` } })
  t.equal(response.statusCode, 200, `client got ${response.statusCode} ${response.body}`)
})

for (const payload of [{ role: 'anon' }, { role: 'authenticated' }, { role: undefined }, { role: 'PROJECT_ADMIN' }]) {
  t.test(`a valid token with role ${String(payload.role)} answers 403 FORBIDDEN`, async (t) => {
    const app = await startApp(t)
    const response = await app.inject({ url: URL, headers: { authorization: `Bearer ${adminToken(payload)}` } })
    assertError(t, response, 403, 'FORBIDDEN')
  })
}

t.test('a custom isAdmin decides who is an admin', async (t) => {
  const app = await startApp(t, { isAdmin: (payload) => payload.scope === 'keys:admin' })
  const allowed = await app.inject({ url: URL, headers: { authorization: `Bearer ${adminToken({ role: 'x', scope: 'keys:admin' })}` } })
  t.equal(allowed.statusCode, 200, `client got ${allowed.statusCode} ${allowed.body}`)
  const refusedByIt = await app.inject({ url: URL, headers: { authorization: `Bearer ${adminToken()}` } })
  assertError(t, refusedByIt, 403, 'FORBIDDEN')
})

t.test('@fastify/jwt verify options are applied to admin tokens', async (t) => {
  const app = await startApp(t, { jwt: { secret: JWT_SECRET, verify: { allowedIss: 'insforge' } } })
  assertError(t, await app.inject({ url: URL, headers: { authorization: `Bearer ${adminToken({ iss: 'someone-else' })}` } }), 401, 'AUTH_INVALID_CREDENTIALS')
  const response = await app.inject({ url: URL, headers: { authorization: `Bearer ${adminToken({ iss: 'insforge' })}` } })
  t.equal(response.statusCode, 200, `client got ${response.statusCode} ${response.body}`)
})

t.test('with allowedAud, an admin token must carry a matching aud claim', async (t) => {
  const app = await startApp(t, { jwt: { secret: JWT_SECRET, verify: { allowedAud: 'anon-key-admin' } } })
  assertError(t, await app.inject({ url: URL, headers: { authorization: `Bearer ${adminToken()}` } }), 401, 'AUTH_INVALID_CREDENTIALS')
  assertError(t, await app.inject({ url: URL, headers: { authorization: `Bearer ${adminToken({ aud: 'other' })}` } }), 401, 'AUTH_INVALID_CREDENTIALS')
  const response = await app.inject({ url: URL, headers: { authorization: `Bearer ${adminToken({ aud: 'anon-key-admin' })}` } })
  t.equal(response.statusCode, 200, `client got ${response.statusCode} ${response.body}`)
})

t.test('the JWT sub is the actor of a rotation; a token without sub gives a null actor', async (t) => {
  const app = await startApp(t)
  const events: RotatedEvent[] = []
  app.anonKey.on('rotated', (event: RotatedEvent) => events.push(event))
  await app.inject({ method: 'POST', url: '/api/secrets/anon-key/rotate', headers: { authorization: `Bearer ${adminToken({ sub: 'alice' })}` } })
  await app.inject({ method: 'POST', url: '/api/secrets/anon-key/rotate', headers: { authorization: `Bearer ${adminToken({ sub: undefined })}` } })
  t.same(events.map((event) => event.actor), ['alice', null])
})

t.test('authorize(request) returning true lets the request in with a null actor', async (t) => {
  const app = await startApp(t, { jwt: undefined, authorize: () => true })
  const events: RotatedEvent[] = []
  app.anonKey.on('rotated', (event: RotatedEvent) => events.push(event))
  const response = await app.inject({ method: 'POST', url: '/api/secrets/anon-key/rotate' })
  t.equal(response.statusCode, 200, `client got ${response.statusCode} ${response.body}`)
  t.equal(events[0].actor, null)
})

t.test('authorize(request) returning false answers 403 FORBIDDEN', async (t) => {
  const app = await startApp(t, { authorize: async () => false })
  assertError(t, await app.inject({ url: URL }), 403, 'FORBIDDEN')
})

t.test('authorize(request) returning { actor } lets the request in and names the actor in events', async (t) => {
  const seen: string[] = []
  const app = await startApp(t, {
    authorize: async (request: FastifyRequest) => {
      seen.push(request.url)
      return request.headers['x-admin'] === 'yes' ? { actor: 'ops-bot' } : false
    }
  })
  const events: RotatedEvent[] = []
  app.anonKey.on('rotated', (event: RotatedEvent) => events.push(event))
  const response = await app.inject({ method: 'POST', url: '/api/secrets/anon-key/rotate', headers: { 'x-admin': 'yes' } })
  t.equal(response.statusCode, 200, `client got ${response.statusCode} ${response.body}`)
  t.equal(events[0].actor, 'ops-bot')
  t.same(seen, ['/api/secrets/anon-key/rotate'], 'authorize receives the request')
  assertError(t, await app.inject({ url: URL }), 403, 'FORBIDDEN')
})

t.test('authorize(request) returning {} lets the request in with a null actor', async (t) => {
  const app = await startApp(t, { authorize: () => ({}) })
  const events: RotatedEvent[] = []
  app.anonKey.on('rotated', (event: RotatedEvent) => events.push(event))
  t.equal((await app.inject({ method: 'POST', url: '/api/secrets/anon-key/rotate' })).statusCode, 200)
  t.equal(events[0].actor, null)
})

t.test('authorize(request) throwing an error with statusCode 401 answers 401 AUTH_INVALID_CREDENTIALS', async (t) => {
  const app = await startApp(t, {
    authorize: () => { throw Object.assign(new Error('session cookie missing'), { statusCode: 401 }) }
  })
  assertError(t, await app.inject({ url: URL }), 401, 'AUTH_INVALID_CREDENTIALS')
})

t.test('authorize(request) throwing an error with statusCode 403 answers 403 FORBIDDEN', async (t) => {
  const app = await startApp(t, {
    authorize: async () => { throw Object.assign(new Error('not in the admins group'), { statusCode: 403 }) }
  })
  assertError(t, await app.inject({ url: URL }), 403, 'FORBIDDEN')
})

t.test('authorize(request) throwing a plain error answers 500 INTERNAL_ERROR without its details', async (t) => {
  const app = await startApp(t, {
    authorize: () => { throw new Error('LDAP at 10.0.0.5 refused the bind for cn=svc') }
  })
  const response = await app.inject({ url: URL })
  assertError(t, response, 500, 'INTERNAL_ERROR')
  t.notMatch(response.body, /LDAP|10\.0\.0\.5|at .*\.ts/, 'the client never sees the error message or stack')
})

t.test('with authorize, no jwt.secret is needed', async (t) => {
  const app = await startApp(t, { jwt: undefined, authorize: () => true })
  t.equal((await app.inject({ url: URL })).statusCode, 200)
})

import { createHmac, createSign, generateKeyPairSync } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { JWT_SECRET, startApp } from '../helpers/app.js'

// Alone this file takes seconds; in the full suite on 2 shared cores it can pass tap's 30 s default.
t.setTimeout(120_000)

const ROUTES = [
  { method: 'GET', url: '/api/metadata/anon-key' },
  { method: 'POST', url: '/api/secrets/anon-key/rotate' },
  { method: 'GET', url: '/api/secrets/anon-key/previous' },
  { method: 'DELETE', url: '/api/secrets/anon-key/previous' },
  { method: 'DELETE', url: '/api/secrets/anon-key/previous/0123456789ab' }
] as const

const base64url = (value: string | Buffer): string => Buffer.from(value).toString('base64url')
const nowSeconds = (): number => Math.floor(Date.now() / 1000)

/** A JWT made by hand, so that any header (alg none, HS256 over an RSA public key) can be forged. */
function forge (header: Record<string, unknown>, payload: Record<string, unknown>, sign: (input: string) => string): string {
  const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`
  return `${input}.${sign(input)}`
}

const hmac = (secret: string | Buffer, algorithm = 'sha256') => (input: string) => createHmac(algorithm, secret).update(input).digest('base64url')
const rsa = (privateKey: string) => (input: string) => createSign('RSA-SHA256').update(input).sign(privateKey).toString('base64url')
const admin = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ role: 'project_admin', sub: 'attacker', iat: nowSeconds(), ...extra })

let attacks = 0

/**
 * Sends `token` to every admin route and checks the answer is 401 AUTH_INVALID_CREDENTIALS in the contract
 * format, and that the key did not change.
 */
async function refusedEverywhere (t: Test, app: FastifyInstance, name: string, headers: Record<string, string>, query = ''): Promise<void> {
  const before = await app.anonKey.get()
  let refused = 0
  for (const { method, url } of ROUTES) {
    attacks += 1
    const response = await app.inject({ method, url: url + query, headers })
    const body = JSON.parse(response.body)
    if (response.statusCode === 401 && body.error === 'AUTH_INVALID_CREDENTIALS' && body.statusCode === 401 &&
      typeof body.message === 'string' && typeof body.nextActions === 'string') refused += 1
    else t.fail(`${name} on ${method} ${url}: client got ${response.statusCode} ${response.body}`)
  }
  t.equal(refused, ROUTES.length, `${name}: 401 AUTH_INVALID_CREDENTIALS on all ${ROUTES.length} admin routes`)
  t.equal(await app.anonKey.get(), before, `${name}: the key is unchanged`)
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })

t.test('with an HS256 secret, forged, stale and misplaced admin tokens are refused with 401', async (t) => {
  const app = await startApp(t)
  const good = forge({ alg: 'HS256', typ: 'JWT' }, admin(), hmac(JWT_SECRET))
  t.equal((await app.inject({ url: '/api/metadata/anon-key', headers: bearer(good) })).statusCode, 200, 'control: a well signed admin token works')
  const notAdmin = forge({ alg: 'HS256', typ: 'JWT' }, admin({ role: 'authenticated' }), hmac(JWT_SECRET))
  t.equal((await app.inject({ url: '/api/metadata/anon-key', headers: bearer(notAdmin) })).statusCode, 403, 'control: a valid token of a non-admin is 403')

  const [header, payload] = good.split('.')
  const cases: Array<[string, string]> = [
    ['alg none, no signature', forge({ alg: 'none', typ: 'JWT' }, admin(), () => '')],
    ['alg None, no signature', forge({ alg: 'None' }, admin(), () => '')],
    ['alg NONE with the real signature kept', forge({ alg: 'NONE' }, admin(), () => good.split('.')[2])],
    ['alg none without the trailing dot', forge({ alg: 'none' }, admin(), () => '').slice(0, -1)],
    ['signed with another secret', forge({ alg: 'HS256' }, admin(), hmac('another-secret-that-is-long-enough-for-hs256'))],
    ['signed with an empty secret', forge({ alg: 'HS256' }, admin(), hmac(''))],
    ['the payload changed after signing', `${header}.${base64url(JSON.stringify(admin({ role: 'project_admin', sub: 'root' })))}.${good.split('.')[2]}`],
    ['a non-admin payload re-labelled', `${header}.${base64url(JSON.stringify(admin()))}.${notAdmin.split('.')[2]}`],
    ['expired an hour ago', forge({ alg: 'HS256' }, admin({ exp: nowSeconds() - 3600 }), hmac(JWT_SECRET))],
    ['expired a second ago', forge({ alg: 'HS256' }, admin({ exp: nowSeconds() - 1 }), hmac(JWT_SECRET))],
    ['not valid for another hour (nbf)', forge({ alg: 'HS256' }, admin({ nbf: nowSeconds() + 3600 }), hmac(JWT_SECRET))],
    ['a jku header pointing elsewhere, signed with another secret', forge({ alg: 'HS256', jku: 'https://evil.example/jwks.json' }, admin(), hmac('x'.repeat(40)))],
    ['a kid path traversal, signed with an empty secret', forge({ alg: 'HS256', kid: '../../../../dev/null' }, admin(), hmac(''))],
    ['two parts only', `${header}.${payload}`],
    ['four parts', `${good}.${payload}`],
    ['not base64', 'not.a.jwt'],
    ['a header that is not JSON', `${base64url('{alg')}.${payload}.${good.split('.')[2]}`],
    ['an empty token', '']
  ]
  for (const [name, token] of cases) await refusedEverywhere(t, app, name, bearer(token))

  const anonKey = await app.anonKey.get() as string
  await refusedEverywhere(t, app, 'the anon key as the admin token', bearer(anonKey))
  await refusedEverywhere(t, app, 'a valid admin token in the query string only', {}, `?token=${good}&access_token=${good}&authorization=Bearer%20${good}`)
  await refusedEverywhere(t, app, 'a valid admin token in a cookie only', { cookie: `token=${good}` })
  await refusedEverywhere(t, app, 'a valid admin token under another scheme', { authorization: `Basic ${good}` })
  await refusedEverywhere(t, app, 'a valid admin token in the apikey header', { apikey: good })

  const expired = await app.inject({ url: '/api/metadata/anon-key', headers: bearer(cases[8][1]) })
  t.equal(expired.json().message, 'The admin token has expired.', 'an expired token is named as such')
})

t.test('with an RS256 key pair, a token HS256-signed with the public key (algorithm confusion) is refused with 401', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' }
  })
  const other = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } })
  const app = await startApp(t, { jwt: { secret: { private: privateKey, public: publicKey }, sign: { algorithm: 'RS256' } } })
  const good = forge({ alg: 'RS256', typ: 'JWT' }, admin(), rsa(privateKey))
  t.equal((await app.inject({ url: '/api/metadata/anon-key', headers: bearer(good) })).statusCode, 200, 'control: an RS256 admin token works')

  await refusedEverywhere(t, app, 'HS256 signed with the RSA public key as the HMAC secret', bearer(forge({ alg: 'HS256', typ: 'JWT' }, admin(), hmac(publicKey))))
  await refusedEverywhere(t, app, 'HS256 signed with the public key without its trailing newline', bearer(forge({ alg: 'HS256' }, admin(), hmac(publicKey.trim()))))
  await refusedEverywhere(t, app, 'HS512 signed with the RSA public key', bearer(forge({ alg: 'HS512' }, admin(), hmac(publicKey, 'sha512'))))
  await refusedEverywhere(t, app, 'alg none', bearer(forge({ alg: 'none' }, admin(), () => '')))
  await refusedEverywhere(t, app, 'RS256 signed with another private key', bearer(forge({ alg: 'RS256' }, admin(), rsa(other.privateKey))))
  await refusedEverywhere(t, app, 'RS256 expired', bearer(forge({ alg: 'RS256' }, admin({ exp: nowSeconds() - 60 }), rsa(privateKey))))
  await refusedEverywhere(t, app, 'RS256 not yet valid', bearer(forge({ alg: 'RS256' }, admin({ nbf: nowSeconds() + 3600 }), rsa(privateKey))))
})

t.test('with an issuer and an audience configured, a token of another issuer or audience is refused with 401', async (t) => {
  const iss = 'https://auth.example.test'
  const aud = 'anon-key-admin'
  const app = await startApp(t, { jwt: { secret: JWT_SECRET, verify: { allowedIss: iss, allowedAud: aud } } })
  const sign = hmac(JWT_SECRET)
  const good = forge({ alg: 'HS256' }, admin({ iss, aud }), sign)
  t.equal((await app.inject({ url: '/api/metadata/anon-key', headers: bearer(good) })).statusCode, 200, 'control: the right issuer and audience work')
  await refusedEverywhere(t, app, 'another issuer', bearer(forge({ alg: 'HS256' }, admin({ iss: 'https://evil.example.test', aud }), sign)))
  await refusedEverywhere(t, app, 'no issuer', bearer(forge({ alg: 'HS256' }, admin({ aud }), sign)))
  await refusedEverywhere(t, app, 'another audience', bearer(forge({ alg: 'HS256' }, admin({ iss, aud: 'billing' }), sign)))
  await refusedEverywhere(t, app, 'no audience', bearer(forge({ alg: 'HS256' }, admin({ iss }), sign)))
  await refusedEverywhere(t, app, 'an issuer that only starts like the right one', bearer(forge({ alg: 'HS256' }, admin({ iss: iss + '.evil', aud }), sign)))
})

t.test('admin token attacks tried', async (t) => {
  t.comment(`${attacks} attack requests, every one 401 AUTH_INVALID_CREDENTIALS with the key unchanged`)
  t.ok(attacks >= 150)
})

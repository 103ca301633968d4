import { createHmac } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import anonKey, { type FastifyAnonKeyOptions } from '../../lib/index.js'
import { assertError, JWT_SECRET, startApp } from '../helpers/app.js'

// Many small apps, one per option and secret form.
t.setTimeout(120_000)

const URL = '/api/metadata/anon-key'
const OTHER_SECRET = 'another-secret-that-is-long-enough-for-hs256'
const nowSeconds = (): number => Math.floor(Date.now() / 1000)

type Claims = Record<string, unknown>

/** A real HMAC-signed JWT with exactly this header and payload (no claim added): HS256 unless the header says. */
function signed (payload: Claims, { secret = JWT_SECRET, header = {} }: { secret?: string, header?: Record<string, unknown> } = {}): string {
  const fullHeader = { alg: 'HS256', typ: 'JWT', ...header }
  const hash = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[fullHeader.alg as string] as string
  const input = `${Buffer.from(JSON.stringify(fullHeader)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`
  return `${input}.${createHmac(hash, secret).update(input).digest('base64url')}`
}

/** An admin's claims: role project_admin, a fresh iat and an exp an hour away, unless `claims` say otherwise. */
const admin = (claims: Claims = {}): Claims => ({ role: 'project_admin', sub: 'admin-1', iat: nowSeconds(), exp: nowSeconds() + 3600, ...claims })
const without = (claims: Claims, ...names: string[]): Claims => Object.fromEntries(Object.entries(claims).filter(([name]) => !names.includes(name)))

async function answer (app: FastifyInstance, token: string): Promise<{ statusCode: number, body: string }> {
  return app.inject({ url: URL, headers: { authorization: `Bearer ${token}` } })
}

async function accepted (t: Test, app: FastifyInstance, token: string, what: string): Promise<void> {
  const response = await answer(app, token)
  t.equal(response.statusCode, 200, `${what}: accepted; client got ${response.statusCode} ${response.body}`)
}

async function refused (t: Test, app: FastifyInstance, token: string, what: string): Promise<void> {
  const response = await answer(app, token)
  t.equal(response.statusCode, 401, `${what}: refused with 401; client got ${response.statusCode} ${response.body}`)
  if (response.statusCode === 401) t.equal(JSON.parse(response.body).error, 'AUTH_INVALID_CREDENTIALS')
}

/** The ways a host gives the key that verifies admin tokens: each must apply the verify options the same way. */
const SECRETS: Array<[string, NonNullable<FastifyAnonKeyOptions['jwt']>['secret']]> = [
  ['a string secret', JWT_SECRET],
  ['a Buffer secret', Buffer.from(JWT_SECRET)],
  ['a { private, public } pair', { private: JWT_SECRET, public: JWT_SECRET }],
  ['a sync key function', () => JWT_SECRET],
  ['an async key function', async () => JWT_SECRET],
  ['a key function that calls back', (_request: unknown, _token: unknown, callback: (error: null, key: string) => void) => { callback(null, JWT_SECRET) }]
]

for (const [form, secret] of SECRETS) {
  t.test(`with ${form}, verify.maxAge refuses a token without iat, and verify.requiredClaims ['exp'] one without exp`, async (t) => {
    const aged = await startApp(t, { jwt: { secret, verify: { maxAge: '1h' } } })
    await accepted(t, aged, signed(admin()), 'a token issued now')
    await refused(t, aged, signed(without(admin(), 'iat')), 'a token without iat')
    await refused(t, aged, signed(admin({ iat: nowSeconds() - 7200 })), 'a token issued 2 h ago')
    await refused(t, aged, signed(admin({ iat: null })), 'iat null')
    await refused(t, aged, signed(admin({ iat: String(nowSeconds()) })), 'iat as a string')
    await refused(t, aged, signed(admin({ iat: nowSeconds() + 10 * 365 * 86400 })), 'iat ten years ahead, which would outlive maxAge')

    const expiring = await startApp(t, { jwt: { secret, verify: { requiredClaims: ['exp'] } } })
    await accepted(t, expiring, signed(admin()), 'a token with exp')
    await refused(t, expiring, signed(without(admin(), 'exp')), 'a token without exp')
    await refused(t, expiring, signed(admin({ exp: null })), 'exp null')
    await refused(t, expiring, signed(admin({ exp: nowSeconds() - 1 })), 'an expired token')
  })
}

t.test('verify.maxAge as a number of seconds, as @fastify/jwt reads it, and with clockTolerance', async (t) => {
  const app = await startApp(t, { jwt: { secret: JWT_SECRET, verify: { maxAge: 60, clockTolerance: 5000 } } })
  await accepted(t, app, signed(admin({ iat: nowSeconds() - 30 })), 'issued 30 s ago, maxAge 60')
  await refused(t, app, signed(admin({ iat: nowSeconds() - 120 })), 'issued 2 min ago, maxAge 60')
  await accepted(t, app, signed(admin({ iat: nowSeconds() + 2 })), 'issued 2 s ahead, within the 5 s clock tolerance')
  await refused(t, app, signed(admin({ iat: nowSeconds() + 60 })), 'issued a minute ahead, beyond the clock tolerance')
  await refused(t, app, signed(without(admin(), 'iat')), 'no iat')
})

t.test('a required claim must be in the token itself: a name every object inherits (constructor, toString) is not there', async (t) => {
  const app = await startApp(t, { jwt: { secret: JWT_SECRET, verify: { requiredClaims: ['constructor', 'tenant'] } } })
  await refused(t, app, signed(admin({ tenant: 'acme' })), 'no constructor claim')
  await refused(t, app, signed(admin({ constructor: 'x' })), 'no tenant claim')
  await accepted(t, app, signed(admin({ constructor: 'x', tenant: 'acme' })), 'both claims')
})

/**
 * Every verify option the plugin honours, each shown applied: a token it refuses and one it accepts (that the
 * defaults would treat the other way round, where the option loosens a check).
 */
const APPLIED: Array<{
  option: string
  verify: Record<string, unknown>
  refused: Array<[string, string]>
  accepted: Array<[string, string]>
  secret?: string
}> = [
  { option: 'algorithms', verify: { algorithms: ['HS384'] }, refused: [['HS256', signed(admin())]], accepted: [['HS384', signed(admin(), { header: { alg: 'HS384' } })]] },
  { option: 'allowedAud', verify: { allowedAud: 'console' }, refused: [['another audience', signed(admin({ aud: 'shop' }))], ['no aud', signed(admin())]], accepted: [['aud console', signed(admin({ aud: 'console' }))]] },
  { option: 'allowedIss', verify: { allowedIss: 'insforge' }, refused: [['another issuer', signed(admin({ iss: 'evil' }))], ['no iss', signed(admin())]], accepted: [['iss insforge', signed(admin({ iss: 'insforge' }))]] },
  { option: 'allowedSub', verify: { allowedSub: /^admin-/ }, refused: [['another subject', signed(admin({ sub: 'user-1' }))], ['no sub', signed(without(admin(), 'sub'))]], accepted: [['sub admin-1', signed(admin())]] },
  { option: 'allowedJti', verify: { allowedJti: 'token-7' }, refused: [['another jti', signed(admin({ jti: 'token-8' }))], ['no jti', signed(admin())]], accepted: [['jti token-7', signed(admin({ jti: 'token-7' }))]] },
  { option: 'allowedNonce', verify: { allowedNonce: 'n-1' }, refused: [['another nonce', signed(admin({ nonce: 'n-2' }))], ['no nonce', signed(admin())]], accepted: [['nonce n-1', signed(admin({ nonce: 'n-1' }))]] },
  {
    option: 'allowedCritHeaders',
    verify: { allowedCritHeaders: ['b64x'] },
    refused: [['a crit header not allowed', signed(admin(), { header: { crit: ['other'], other: 1 } })]],
    accepted: [['a crit header allowed', signed(admin(), { header: { crit: ['b64x'], b64x: true } })]]
  },
  { option: 'checkTyp', verify: { checkTyp: 'JWT' }, refused: [['typ at+jwt', signed(admin(), { header: { typ: 'at+jwt' } })]], accepted: [['typ JWT', signed(admin())]] },
  { option: 'clockTolerance', verify: { clockTolerance: 60_000 }, refused: [['expired 2 min ago', signed(admin({ exp: nowSeconds() - 120 }))]], accepted: [['expired 10 s ago', signed(admin({ exp: nowSeconds() - 10 }))]] },
  { option: 'clockTimestamp', verify: { clockTimestamp: (nowSeconds() - 7200) * 1000 }, refused: [['valid now, not yet 2 h ago', signed(admin({ nbf: nowSeconds() - 60 }))]], accepted: [['expired now, valid 2 h ago', signed(admin({ iat: nowSeconds() - 7300, exp: nowSeconds() - 3600 }))]] },
  { option: 'ignoreExpiration', verify: { ignoreExpiration: true }, refused: [['badly signed', signed(admin(), { secret: OTHER_SECRET })]], accepted: [['expired', signed(admin({ exp: nowSeconds() - 60 }))]] },
  { option: 'ignoreNotBefore', verify: { ignoreNotBefore: true }, refused: [['expired', signed(admin({ exp: nowSeconds() - 60 }))]], accepted: [['not valid before tomorrow', signed(admin({ nbf: nowSeconds() + 86400 }))]] },
  { option: 'key', verify: { key: OTHER_SECRET }, refused: [['signed with jwt.secret', signed(admin())]], accepted: [['signed with verify.key', signed(admin(), { secret: OTHER_SECRET })]] },
  { option: 'cache', verify: { cache: true, cacheTTL: 60_000, errorCacheTTL: 60_000 }, refused: [['badly signed, twice', signed(admin(), { secret: OTHER_SECRET })]], accepted: [['well signed, twice', signed(admin())]] }
]

for (const { option, verify, refused: bad, accepted: good } of APPLIED) {
  t.test(`verify.${option} is applied`, async (t) => {
    const app = await startApp(t, { jwt: { secret: JWT_SECRET, verify } as FastifyAnonKeyOptions['jwt'] })
    for (let round = 0; round < 2; round++) {
      for (const [what, token] of bad) await refused(t, app, token, what)
      for (const [what, token] of good) await accepted(t, app, token, what)
    }
  })
}

t.test('verify.cacheKeyBuilder is applied: the host\'s builder keys the cache', async (t) => {
  const built: string[] = []
  const app = await startApp(t, {
    jwt: { secret: JWT_SECRET, verify: { cache: true, cacheKeyBuilder: (token: string) => { built.push(token); return token } } }
  })
  const token = signed(admin())
  await accepted(t, app, token, 'a token')
  t.ok(built.includes(token), 'the builder was asked for the token\'s key')
})

/** ready() of an app with these options; resolves to the error, or null. */
async function readyError (options: FastifyAnonKeyOptions): Promise<(Error & { code?: string }) | null> {
  const app = Fastify()
  app.register(anonKey, options)
  try {
    await app.ready()
    return null
  } catch (error) {
    return error as Error & { code?: string }
  } finally {
    await app.close().catch(() => {})
  }
}

const REFUSED_AT_READY: Array<[string, FastifyAnonKeyOptions, RegExp]> = [
  ['algorithms that allow none', { jwt: { secret: JWT_SECRET, verify: { algorithms: ['HS256', 'none'] } } }, /option "jwt\.verify\.algorithms" allows "none", unsigned tokens\. Admin tokens must be signed/],
  ['algorithms that allow NONE', { jwt: { secret: JWT_SECRET, verify: { algorithms: ['NONE' as 'none'] } } }, /option "jwt\.verify\.algorithms" allows "none"/],
  ['requiredClaims as a string', { jwt: { secret: JWT_SECRET, verify: { requiredClaims: 'exp' as unknown as string[] } } }, /option "jwt\.verify\.requiredClaims" must be an array of claim names, got "exp"\. Pass for example requiredClaims: \['exp'\]/],
  ['requiredClaims with an empty name', { jwt: { secret: JWT_SECRET, verify: { requiredClaims: [''] } } }, /option "jwt\.verify\.requiredClaims" must be an array of claim names/],
  ['requiredClaims with a number', { jwt: { secret: JWT_SECRET, verify: { requiredClaims: [1 as unknown as string] } } }, /option "jwt\.verify\.requiredClaims"/],
  ['verify.key beside a key function', { jwt: { secret: async () => JWT_SECRET, verify: { key: OTHER_SECRET } } }, /option "jwt\.verify\.key" cannot be used with a key function in jwt\.secret/],
  ['verify.key beside a key function for the public key', { jwt: { secret: { private: JWT_SECRET, public: async () => JWT_SECRET } as any, verify: { key: OTHER_SECRET } } }, /option "jwt\.verify\.key" cannot be used with a key function/],
  ['maxAge that is no duration', { jwt: { secret: JWT_SECRET, verify: { maxAge: 'forever' } } }, /option "jwt\.verify\.maxAge" was refused by @fastify\/jwt: The maxAge option must be a finite number or a valid string/],
  ['a negative clockTolerance', { jwt: { secret: JWT_SECRET, verify: { clockTolerance: -1 } } }, /option "jwt\.verify\.clockTolerance" was refused by @fastify\/jwt/],
  ['algorithms that do not fit the secret', { jwt: { secret: JWT_SECRET, verify: { algorithms: ['RS256'] } } }, /option "jwt\.verify\.algorithms" was refused by @fastify\/jwt: Invalid public key provided for algorithms RS256/],
  ['a sign option that is no duration', { jwt: { secret: JWT_SECRET, sign: { expiresIn: 'soon' } } }, /option "jwt\.sign\.expiresIn" was refused by @fastify\/jwt/],
  ['a secret that is a number', { jwt: { secret: 123 as unknown as string } }, /option "jwt\.secret" was refused by @fastify\/jwt: The key option must be/],
  ['a private key without its public key', { jwt: { secret: { private: JWT_SECRET } as any } }, /option "jwt\.secret" was refused by @fastify\/jwt: missing public key/],
  ['jwt.verify beside authorize', { authorize: () => true, jwt: { secret: JWT_SECRET, verify: { requiredClaims: ['exp'] } } }, /option "jwt\.verify" has no effect with authorize: authorize\(request\) replaces the admin JWT check/],
  ['jwt.trusted beside authorize', { authorize: () => true, jwt: { secret: JWT_SECRET, trusted: () => false } }, /option "jwt\.trusted" has no effect with authorize/],
  ['jwt.decode beside authorize', { authorize: () => true, jwt: { secret: JWT_SECRET, decode: { checkTyp: 'JWT' } } }, /option "jwt\.decode" has no effect with authorize/]
]

for (const [what, options, message] of REFUSED_AT_READY) {
  t.test(`ready() refuses ${what}, naming the option`, async (t) => {
    const error = await readyError(options)
    t.equal(error?.code, 'FST_ANON_KEY_INVALID_OPTION', `a host can match on the code; got ${String(error)}`)
    t.match(error?.message, message)
  })
}

t.test('with authorize, a jwt.secret alone (a shared config object) is still accepted', async (t) => {
  t.equal(await readyError({ authorize: () => true, jwt: { secret: JWT_SECRET, sign: { expiresIn: '1h' } } }), null)
})

t.test('an admin token refused by the verify options rotates nothing', async (t) => {
  const app = await startApp(t, { jwt: { secret: JWT_SECRET, verify: { maxAge: '1h', requiredClaims: ['exp'] } } })
  const before = await app.anonKey.get()
  const response = await app.inject({ method: 'POST', url: '/api/secrets/anon-key/rotate', headers: { authorization: `Bearer ${signed(without(admin(), 'iat', 'exp'))}` } })
  assertError(t, response, 401, 'AUTH_INVALID_CREDENTIALS')
  t.equal(await app.anonKey.get(), before)
})

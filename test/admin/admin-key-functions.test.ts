import { generateKeyPairSync } from 'node:crypto'
import { createSigner } from 'fast-jwt'
import Fastify from 'fastify'
import t from 'tap'
import { adminToken, assertError, JWT_SECRET, startApp } from '../helpers/app.js'
import anonKey, { type FastifyAnonKeyOptions } from '../../lib/index.js'

const URL = '/api/metadata/anon-key'
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256', privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } })
const signEs256 = createSigner({ key: privateKey, algorithm: 'ES256' })
const esAdmin = (payload: Record<string, unknown> = {}): string => signEs256({ role: 'project_admin', sub: 'admin-1', ...payload })

function base64url (value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

/** Tokens an attacker sends at a key function: none of them may crash the process or get past 401. */
const hostileTokens: Array<[string, string]> = [
  ['garbage', 'not-a-jwt'],
  ['three empty parts', '..'],
  ['a header that is not JSON', 'e30.e30.e30x'],
  ['alg none', `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ role: 'project_admin' })}.`],
  ['HS256 signed with the public key as the secret (algorithm confusion)', createSigner({ key: publicKey, algorithm: 'HS256' })({ role: 'project_admin' })],
  ['signed with another secret', createSigner({ key: 'another-secret-of-the-same-length-abcd' })({ role: 'project_admin' })],
  ['expired', esAdmin({ exp: Math.floor(Date.now() / 1000) - 60 })],
  ['a payload that is not an object', `${base64url({ alg: 'ES256', typ: 'JWT' })}.${Buffer.from('"admin"').toString('base64url')}.AAAA`]
]

/** Key functions in every form @fastify/jwt accepts, plus a plain sync return. */
const keyFunctions: Array<[string, FastifyAnonKeyOptions['jwt'], (payload?: Record<string, unknown>) => string]> = [
  ['an async secret.public (JWKS-style)', { secret: { private: privateKey, public: async () => publicKey } }, esAdmin],
  ['a callback secret.public', { secret: { public: (_request: unknown, _token: unknown, done: (error: Error | null, key: string) => void) => { setImmediate(() => done(null, publicKey)) } } } as any, esAdmin],
  ['a sync secret.public that returns the key', { secret: { public: () => publicKey } } as any, esAdmin],
  ['an async secret', { secret: async () => JWT_SECRET } as any, adminToken],
  ['a callback secret', { secret: (_request: unknown, _token: unknown, done: (error: Error | null, key: string) => void) => { done(null, JWT_SECRET) } } as any, adminToken]
]

function countUnhandled (t: { teardown: (fn: () => void) => void }): { count: () => number } {
  let unhandled = 0
  const onUnhandled = (): void => { unhandled++ }
  process.on('unhandledRejection', onUnhandled)
  t.teardown(() => { process.off('unhandledRejection', onUnhandled) })
  return { count: () => unhandled }
}

for (const [name, jwt, sign] of keyFunctions) {
  t.test(`with ${name}, an admin token works and every hostile token is a 401, nothing left unhandled`, async (t) => {
    const unhandled = countUnhandled(t)
    const app = await startApp(t, { jwt })
    const ok = await app.inject({ url: URL, headers: { authorization: `Bearer ${sign()}` } })
    t.equal(ok.statusCode, 200, `a valid admin token must pass once the key is awaited; client got ${ok.statusCode} ${ok.body}`)
    assertError(t, await app.inject({ url: URL, headers: { authorization: `Bearer ${sign({ role: 'anon' })}` } }), 403, 'FORBIDDEN')
    for (const [tokenName, token] of hostileTokens) {
      const response = await app.inject({ url: URL, headers: { authorization: `Bearer ${token}` } })
      t.equal(response.statusCode, 401, `${tokenName}: client got ${response.statusCode} ${response.body}`)
      t.equal(response.headers['www-authenticate'], 'Bearer', `${tokenName}: the 401 names the Bearer scheme`)
    }
    await new Promise((resolve) => setImmediate(resolve))
    t.equal(unhandled.count(), 0, 'no promise rejection was left unhandled')
  })
}

const failingKeyFunctions: Array<[string, (...args: any[]) => unknown]> = [
  ['throws', () => { throw new Error('JWKS endpoint down') }],
  ['rejects', async () => { throw new Error('JWKS endpoint down') }],
  ['rejects with nothing', () => Promise.reject()], // eslint-disable-line prefer-promise-reject-errors
  ['throws a string', () => { throw 'no key' }], // eslint-disable-line no-throw-literal
  ['calls back with an error', (_r: unknown, _t: unknown, done: (error: Error) => void) => { done(new Error('kid not found')) }],
  ['calls back twice, an error first', (_r: unknown, _t: unknown, done: (error: Error | null, key?: string) => void) => { done(new Error('no')); done(null, publicKey) }],
  ['resolves to nothing', async () => undefined],
  ['resolves to a number', async () => 42],
  ['never answers', () => undefined]
]

for (const [name, keyFunction] of failingKeyFunctions) {
  t.test(`a key function that ${name} refuses the token with 401, and the process goes on`, async (t) => {
    const unhandled = countUnhandled(t)
    const app = await startApp(t, { jwt: { secret: { public: keyFunction } } as any, storeTimeoutMs: 200 })
    for (const token of [esAdmin(), 'not-a-jwt', hostileTokens[3][1]]) {
      assertError(t, await app.inject({ url: URL, headers: { authorization: `Bearer ${token}` } }), 401, 'AUTH_INVALID_CREDENTIALS')
    }
    await new Promise((resolve) => setImmediate(resolve))
    t.equal(unhandled.count(), 0, 'no promise rejection was left unhandled')
  })
}

t.test('the key function receives the host request and the decoded token, as @fastify/jwt passes them', async (t) => {
  const seen: Array<{ url: string, kid: unknown }> = []
  const app = await startApp(t, {
    jwt: {
      secret: { public: async (request: any, token: any) => { seen.push({ url: request.url, kid: token.header.kid }); return publicKey } },
      decode: { complete: true }
    } as any
  })
  const token = createSigner({ key: privateKey, algorithm: 'ES256', kid: 'k1' })({ role: 'project_admin' })
  t.equal((await app.inject({ url: URL, headers: { authorization: `Bearer ${token}` } })).statusCode, 200)
  t.same(seen, [{ url: URL, kid: 'k1' }])
})

t.test('an async isAdmin is awaited: resolving false is a 403, never a pass', async (t) => {
  const app = await startApp(t, { isAdmin: async (payload: any) => payload.role === 'owner' })
  assertError(t, await app.inject({ url: URL, headers: { authorization: `Bearer ${adminToken()}` } }), 403, 'FORBIDDEN')
  t.equal((await app.inject({ url: URL, headers: { authorization: `Bearer ${adminToken({ role: 'owner' })}` } })).statusCode, 200)
})

t.test('isAdmin receives the request beside the payload', async (t) => {
  const app = await startApp(t, { isAdmin: (payload: any, request) => payload.tenant === request.headers['x-tenant'] })
  t.equal((await app.inject({ url: URL, headers: { authorization: `Bearer ${adminToken({ tenant: 'a' })}`, 'x-tenant': 'a' } })).statusCode, 200)
  assertError(t, await app.inject({ url: URL, headers: { authorization: `Bearer ${adminToken({ tenant: 'a' })}`, 'x-tenant': 'b' } }), 403, 'FORBIDDEN')
})

t.test('a key function is accepted at ready() whatever its form', async (t) => {
  const app = Fastify()
  app.register(anonKey, { jwt: { secret: { public: async () => publicKey } } })
  t.teardown(() => app.close())
  await t.resolves(async () => { await app.ready() })
})

import Fastify from 'fastify'
import t from 'tap'
import { adminHeaders, JWT_SECRET, startApp } from '../helpers/app.js'
import anonKey, { memoryStore, type FastifyAnonKeyOptions } from '../../lib/index.js'

/** ready() of an app given these options, exactly as written (no default jwt added). */
async function readyWith (options: unknown): Promise<void> {
  const app = Fastify()
  app.register(anonKey, options as FastifyAnonKeyOptions)
  try {
    await app.ready()
  } finally {
    await app.close().catch(() => {})
  }
}

const secret = { jwt: { secret: JWT_SECRET } }

const bad: Array<{ name: string, options: Record<string, unknown>, names: RegExp }> = [
  { name: 'no options at all', options: {}, names: /"jwt\.secret" is required.*authorize/ },
  { name: 'jwt without a secret', options: { jwt: {} }, names: /"jwt\.secret"/ },
  { name: 'an empty jwt.secret', options: { jwt: { secret: '' } }, names: /"jwt\.secret"/ },
  { name: 'a null jwt.secret', options: { jwt: { secret: null } }, names: /"jwt\.secret"/ },
  { name: 'jwt.verify.complete', options: { jwt: { secret: JWT_SECRET, verify: { complete: true } } }, names: /"jwt\.verify\.complete" is not supported for admin tokens/ },
  { name: 'jwt.verify.extractToken', options: { jwt: { secret: JWT_SECRET, verify: { extractToken: () => 'x' } } }, names: /"jwt\.verify\.extractToken" is not supported/ },
  { name: 'jwt.verify.onlyCookie', options: { jwt: { secret: JWT_SECRET, verify: { onlyCookie: true } } }, names: /"jwt\.verify\.onlyCookie" is not supported/ },
  { name: 'a misspelt jwt.verify option', options: { jwt: { secret: JWT_SECRET, verify: { allowedIssuer: 'me' } } }, names: /"jwt\.verify\.allowedIssuer" is not a verify option of @fastify\/jwt/ },
  { name: 'a misspelt jwt.decode option', options: { jwt: { secret: JWT_SECRET, decode: { completely: true } } }, names: /"jwt\.decode\.completely"/ },
  { name: 'a jwt.verify that is not an object', options: { jwt: { secret: JWT_SECRET, verify: 'strict' } }, names: /"jwt\.verify" must be an object/ },
  { name: 'jwt.namespace', options: { jwt: { secret: JWT_SECRET, namespace: 'admin' } }, names: /"jwt\.namespace" is not supported/ },
  { name: 'jwt.cookie', options: { jwt: { secret: JWT_SECRET, cookie: { cookieName: 'token', signed: false } } }, names: /"jwt\.cookie" is not supported/ },
  { name: 'jwt.decoratorName', options: { jwt: { secret: JWT_SECRET, decoratorName: 'admin' } }, names: /"jwt\.decoratorName" is not supported/ },
  { name: 'jwt.formatUser', options: { jwt: { secret: JWT_SECRET, formatUser: (user: unknown) => user } }, names: /"jwt\.formatUser" is not supported/ },
  { name: 'jwt.messages', options: { jwt: { secret: JWT_SECRET, messages: { authorizationTokenExpiredMessage: 'old' } } }, names: /"jwt\.messages" is not supported/ },
  { name: 'jwt.jwtVerify', options: { jwt: { secret: JWT_SECRET, jwtVerify: 'adminVerify' } }, names: /"jwt\.jwtVerify" is not supported/ },
  { name: 'jwt.jwtDecode', options: { jwt: { secret: JWT_SECRET, jwtDecode: 'adminDecode' } }, names: /"jwt\.jwtDecode" is not supported/ },
  { name: 'jwt.jwtSign', options: { jwt: { secret: JWT_SECRET, jwtSign: 'adminSign' } }, names: /"jwt\.jwtSign" is not supported/ },
  { name: 'a jwt given as the secret string itself', options: { jwt: JWT_SECRET }, names: /"jwt" must be an object of @fastify\/jwt options, and it is a string\. Pass \{ jwt: \{ secret: process\.env\.JWT_SECRET \} \}/ },
  { name: 'a null jwt', options: { jwt: null }, names: /"jwt" must be an object of @fastify\/jwt options, and it is null/ },
  { name: 'an unknown jwt option', options: { jwt: { secret: JWT_SECRET, trust: () => true } }, names: /"jwt\.trust" is not an @fastify\/jwt option/ },
  { name: 'a jwt.trusted that is not a function', options: { jwt: { secret: JWT_SECRET, trusted: true } }, names: /"jwt\.trusted" must be a function/ },
  { name: 'a maxPreviousKeys of 0', options: { ...secret, maxPreviousKeys: 0 }, names: /"maxPreviousKeys" must be a whole number from 1 to 1000/ },
  { name: 'a maxPreviousKeys given as a string', options: { ...secret, maxPreviousKeys: '100' }, names: /"maxPreviousKeys"/ },
  { name: 'authorize that is not a function', options: { authorize: true }, names: /"authorize" must be a function/ },
  { name: 'isAdmin that is not a function', options: { ...secret, isAdmin: 'admin' }, names: /"isAdmin" must be a function/ },
  { name: 'a store missing methods', options: { ...secret, store: { load: async () => null } }, names: /"store" has no update\(\) method/ },
  { name: 'a null store', options: { ...secret, store: null }, names: /"store" has no load\(\) method/ },
  { name: 'a prefix without a leading slash', options: { ...secret, prefix: 'api' }, names: /"prefix" must be '' or a path starting with "\/"/ },
  { name: 'a prefix that is not a string', options: { ...secret, prefix: 42 }, names: /"prefix"/ },
  { name: 'a default grace over the maximum', options: { ...secret, defaultGracePeriodHours: 800 }, names: /"defaultGracePeriodHours" must be a whole number from 0 to 720/ },
  { name: 'a default grace over a custom maximum', options: { ...secret, maxGracePeriodHours: 24, defaultGracePeriodHours: 48 }, names: /"defaultGracePeriodHours" must be a whole number from 0 to 24/ },
  { name: 'a maximum below the default grace of 168', options: { ...secret, maxGracePeriodHours: 24 }, names: /"maxGracePeriodHours" is 24, below the default grace period of 168/ },
  { name: 'a negative default grace', options: { ...secret, defaultGracePeriodHours: -1 }, names: /"defaultGracePeriodHours"/ },
  { name: 'a fractional default grace', options: { ...secret, defaultGracePeriodHours: 1.5 }, names: /"defaultGracePeriodHours"/ },
  { name: 'a default grace given as a string', options: { ...secret, defaultGracePeriodHours: '24' }, names: /"defaultGracePeriodHours".*got "24"/ },
  { name: 'a negative maximum', options: { ...secret, maxGracePeriodHours: -5 }, names: /"maxGracePeriodHours"/ },
  { name: 'a maximum over ten years', options: { ...secret, maxGracePeriodHours: 87601 }, names: /"maxGracePeriodHours"/ },
  { name: 'autoInitialize that is not a boolean', options: { ...secret, autoInitialize: 'yes' }, names: /"autoInitialize" must be true or false/ },
  { name: 'a malformed initialKey', options: { ...secret, initialKey: 'anon_123' }, names: /"initialKey" must be "anon_" followed by 64 lowercase hex characters/ },
  { name: 'an initialKey with uppercase hex', options: { ...secret, initialKey: 'anon_' + 'A'.repeat(64) }, names: /"initialKey"/ },
  { name: 'a cacheTtlMs of 0', options: { ...secret, cacheTtlMs: 0 }, names: /"cacheTtlMs" must be a whole number/ },
  { name: 'a cacheTtlMs too large for a timer', options: { ...secret, cacheTtlMs: 2 ** 31 }, names: /"cacheTtlMs"/ },
  { name: 'a storeTimeoutMs that is not a number', options: { ...secret, storeTimeoutMs: '5s' }, names: /"storeTimeoutMs"/ },
  { name: 'a usageFlushMs of 0', options: { ...secret, usageFlushMs: 0 }, names: /"usageFlushMs" must be a whole number/ },
  { name: 'a bodyLimit below 64', options: { ...secret, bodyLimit: 10 }, names: /"bodyLimit" must be a whole number from 64/ },
  { name: 'an apiKeyHeader of authorization', options: { ...secret, apiKeyHeader: 'Authorization' }, names: /"apiKeyHeader" must be true, false, or a header name other than authorization/ },
  { name: 'an apiKeyHeader with a space', options: { ...secret, apiKeyHeader: 'api key' }, names: /"apiKeyHeader"/ },
  { name: 'an apiKeyHeader that is a number', options: { ...secret, apiKeyHeader: 1 }, names: /"apiKeyHeader"/ }
]

for (const { name, options, names } of bad) {
  t.test(`ready() rejects ${name} with a message naming the option`, async (t) => {
    await t.rejects(readyWith(options), { code: 'FST_ANON_KEY_INVALID_OPTION', message: names })
  })
}

t.test('every option message starts with the plugin name and says how to fix it', async (t) => {
  const error = await readyWith({}).catch((error: Error) => error)
  t.match((error as Error).message,
    /^fastify-anon-key: option "jwt\.secret" is required to verify admin tokens, and no jwt option was given\. If you pass process\.env\.JWT_SECRET, the JWT_SECRET environment variable is unset/)
})

t.test('a bad option fails ready() before anything is decorated on the app', async (t) => {
  const app = Fastify()
  app.register(anonKey, { jwt: { secret: JWT_SECRET }, prefix: 'nope' })
  await t.rejects(async () => { await app.ready() })
  t.notOk(app.hasDecorator('anonKey'), 'anonKey is not decorated')
  t.notOk(app.hasDecorator('verifyAnonKey'), 'verifyAnonKey is not decorated')
  await app.close().catch(() => {})
})

t.test('good edge values are accepted', async (t) => {
  const store = memoryStore({ namespace: 'options-edge' })
  t.equal(store.namespace, 'options-edge')
  const app = await startApp(t, {
    store,
    prefix: '',
    maxGracePeriodHours: 0,
    defaultGracePeriodHours: 0,
    cacheTtlMs: 1,
    storeTimeoutMs: 2 ** 31 - 1,
    bodyLimit: 1024 * 1024,
    apiKeyHeader: 'x-anon-key'
  })
  const response = await app.inject({ url: '/metadata/anon-key', headers: adminHeaders() })
  t.equal(response.statusCode, 200, `with prefix '' the route is at the root; client got ${response.statusCode}`)
})

t.test('the prefix option moves every admin route', async (t) => {
  const app = await startApp(t, { prefix: '/admin/v2' })
  t.equal((await app.inject({ url: '/admin/v2/metadata/anon-key', headers: adminHeaders() })).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: '/admin/v2/secrets/anon-key/rotate', headers: adminHeaders() })).statusCode, 200)
  t.equal((await app.inject({ url: '/admin/v2/secrets/anon-key/previous', headers: adminHeaders() })).statusCode, 200)
  t.equal((await app.inject({ method: 'DELETE', url: '/admin/v2/secrets/anon-key/previous', headers: adminHeaders() })).statusCode, 200)
  t.equal((await app.inject({ url: '/api/metadata/anon-key', headers: adminHeaders() })).statusCode, 404, 'nothing is left under /api')
})

t.test('the default store is a memory store of its own for each app', async (t) => {
  const first = await startApp(t)
  const second = await startApp(t)
  t.not(await first.anonKey.get(), await second.anonKey.get(), 'two apps without a store option do not share a key')
})

t.test('a jwt secret given with authorize is not needed and authorize decides', async (t) => {
  const app = await startApp(t, { jwt: { secret: JWT_SECRET }, authorize: () => false })
  t.equal((await app.inject({ url: '/api/metadata/anon-key', headers: adminHeaders() })).statusCode, 403, 'authorize replaces the JWT check')
})

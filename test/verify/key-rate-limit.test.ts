import rateLimit, { type RateLimitPluginOptions } from '@fastify/rate-limit'
import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import anonKey, { anonKeyRateLimit, redisStore, type FastifyAnonKeyOptions } from '../../lib/index.js'
import { assertError, bearer, JWT_SECRET } from '../helpers/app.js'
import { keysRequest } from '../helpers/named-keys.js'
import { onRedis, redisClient, redisNamespaces } from '../helpers/redis.js'
import { eventually } from '../helpers/eventually.js'
import { isTenantAdmin, tenantFromHeader } from '../helpers/tenants.js'

const DEFAULTS = { max: 5, timeWindowMs: 60_000 }
// Checked by tsc: the options are @fastify/rate-limit's own, with nothing to cast.
const typed: RateLimitPluginOptions = anonKeyRateLimit(DEFAULTS)

/** An app with the plugin, @fastify/rate-limit given anonKeyRateLimit's options, /data guarded and /public open. */
async function limitedApp (t: Test, options: FastifyAnonKeyOptions = {}, limiter: Record<string, unknown> = {}): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(anonKey, { jwt: { secret: JWT_SECRET }, ...options })
  await app.register(rateLimit, { ...typed, ...limiter })
  app.register(async (guarded) => {
    guarded.addHook('onRequest', guarded.verifyAnonKey)
    guarded.get('/data', async (request) => ({ anonKey: request.anonKey }))
  })
  app.get('/public', async () => ({ ok: true }))
  t.teardown(() => app.close())
  await app.ready()
  return app
}

const data = (app: FastifyInstance, key: string, headers: Record<string, string> = {}) => app.inject({ url: '/data', headers: { ...bearer(key), ...headers } })

/** Sends `count` requests and returns their statuses. */
async function statuses (count: number, send: () => Promise<{ statusCode: number }>): Promise<number[]> {
  const seen: number[] = []
  for (let i = 0; i < count; i++) seen.push((await send()).statusCode)
  return seen
}

t.test('a key with its own rateLimit gets that many requests a window, then 429 RATE_LIMITED with the limiter\'s headers', async (t) => {
  const app = await limitedApp(t)
  const mobile = await app.anonKey.createKey({ name: 'mobile', rateLimit: { max: 2, timeWindowMs: 60_000 } })
  const first = await data(app, mobile.anonKey)
  t.equal(first.statusCode, 200)
  t.equal(first.headers['x-ratelimit-limit'], '2')
  t.equal(first.headers['x-ratelimit-remaining'], '1')
  t.equal((await data(app, mobile.anonKey)).statusCode, 200)
  const limited = await data(app, mobile.anonKey)
  assertError(t, limited, 429, 'RATE_LIMITED')
  t.match(limited.json().message, /with this anon key: at most 2 per window\. Retry in 1 minute/)
  t.equal(limited.headers['retry-after'], '60')
  t.equal(limited.headers['x-ratelimit-limit'], '2')
  t.equal(limited.headers['x-ratelimit-remaining'], '0')
  t.equal(limited.headers['x-ratelimit-reset'], '60')
})

t.test('each key is counted on its own; a key without a rateLimit gets the defaults; a previous key counts for its name', async (t) => {
  const app = await limitedApp(t)
  const mobile = await app.anonKey.createKey({ name: 'mobile', rateLimit: { max: 2, timeWindowMs: 60_000 } })
  const web = await app.anonKey.createKey({ name: 'web' })
  t.same(await statuses(3, () => data(app, mobile.anonKey)), [200, 200, 429])
  t.same(await statuses(6, () => data(app, web.anonKey)), [200, 200, 200, 200, 200, 429], 'web has the defaults, untouched by mobile')
  await app.anonKey.rotate({ name: 'mobile', gracePeriodHours: 1 })
  const current = (await app.anonKey.getKey('mobile')).anonKey
  t.equal((await data(app, current)).statusCode, 429, 'the new key of mobile shares its name\'s counter')
})

t.test('requests without a verified anon key are limited by IP with the defaults', async (t) => {
  const app = await limitedApp(t)
  const from = (remoteAddress: string) => () => app.inject({ url: '/public', remoteAddress })
  t.same(await statuses(6, from('203.0.113.7')), [200, 200, 200, 200, 200, 429])
  const limited = await app.inject({ url: '/public', remoteAddress: '203.0.113.7' })
  assertError(t, limited, 429, 'RATE_LIMITED')
  t.match(limited.json().message, /from this address without an anon key/)
  t.equal((await app.inject({ url: '/public', remoteAddress: '198.51.100.9' })).statusCode, 200, 'another address has its own count')
})

t.test('a PATCH of rateLimit applies to the next request, and null returns the key to the defaults', async (t) => {
  const app = await limitedApp(t)
  const mobile = await app.anonKey.createKey({ name: 'mobile', rateLimit: { max: 100, timeWindowMs: 60_000 } })
  t.same(await statuses(3, () => data(app, mobile.anonKey)), [200, 200, 200])
  const patched = await keysRequest(app, 'PATCH', '/mobile', { rateLimit: { max: 3, timeWindowMs: 60_000 } })
  t.same(patched.json().rateLimit, { max: 3, timeWindowMs: 60_000 })
  assertError(t, await data(app, mobile.anonKey), 429, 'RATE_LIMITED')
  await keysRequest(app, 'PATCH', '/mobile', { rateLimit: null })
  const back = await data(app, mobile.anonKey)
  t.equal(back.statusCode, 200, 'the defaults (5) allow the fifth request')
  t.equal(back.headers['x-ratelimit-limit'], '5')
})

t.test('in tenant mode one name is counted per tenant', async (t) => {
  const app = await limitedApp(t, { tenant: tenantFromHeader, isAdmin: isTenantAdmin })
  const keys = await Promise.all(['acme', 'globex'].map(async (tenant) => {
    const project = app.anonKey.forTenant(tenant)
    await project.initialize()
    return (await project.createKey({ name: 'mobile', rateLimit: { max: 1, timeWindowMs: 60_000 } })).anonKey
  }))
  t.equal((await data(app, keys[0], { 'x-tenant': 'acme' })).statusCode, 200)
  t.equal((await data(app, keys[0], { 'x-tenant': 'acme' })).statusCode, 429)
  t.equal((await data(app, keys[1], { 'x-tenant': 'globex' })).statusCode, 200, 'globex\'s mobile is not acme\'s')
})

t.test('anonKeyRateLimit refuses defaults it cannot use, naming them and the fix', async (t) => {
  for (const [defaults, message] of [
    [undefined, /anonKeyRateLimit\(defaults\) must be null or an object/],
    [null, /anonKeyRateLimit\(defaults\) must be an object \{ max, timeWindowMs \}/],
    [{ max: 0, timeWindowMs: 1000 }, /anonKeyRateLimit\(defaults\)\.max must be a whole number from 1/],
    [{ max: 10, timeWindowMs: '1 minute' }, /anonKeyRateLimit\(defaults\)\.timeWindowMs must be a whole number of milliseconds/],
    [{ max: 10, timeWindow: 1000 }, /unknown property "timeWindow"/],
    [{ timeWindowMs: 1000 }, /\.max must be a whole number from 1 to 1000000000, got nothing/],
    [{ max: 1 }, /\.timeWindowMs must be a whole number of milliseconds from 1 to 2147483647, got nothing/]
  ] as const) {
    t.throws(() => anonKeyRateLimit(defaults as never), { code: 'FST_ANON_KEY_INVALID_OPTION', message })
  }
  t.throws(() => anonKeyRateLimit(null as never), { message: /Pass for example anonKeyRateLimit\(\{ max: 100, timeWindowMs: 60000 \}\)/ })
})

t.test('a rateLimit that is not { max, timeWindowMs } in range is 400 on create and PATCH, and createKey() refuses it alike', async (t) => {
  const app = await limitedApp(t)
  await app.anonKey.createKey({ name: 'mobile' })
  for (const rateLimit of [{}, { max: 1 }, { max: 0, timeWindowMs: 1 }, { max: 1, timeWindowMs: 2 ** 31 }, { max: 1, timeWindowMs: 1, burst: 2 }, [], 'fast', 5]) {
    for (const response of [await keysRequest(app, 'POST', '', { name: 'web', rateLimit }), await keysRequest(app, 'PATCH', '/mobile', { rateLimit })]) {
      assertError(t, response, 400, 'INVALID_INPUT')
      t.match(response.json().message, /^rateLimit must be null or an object \{ "max": 1 to 1000000000, "timeWindowMs": 1 to 2147483647 \}/)
    }
    await t.rejects(app.anonKey.createKey({ name: 'web', rateLimit: rateLimit as never }), { code: 'INVALID_INPUT', message: /^rateLimit/ })
  }
  await t.rejects(app.anonKey.updateKey('mobile', { rateLimit: { max: 1.5, timeWindowMs: 1000 } }), { code: 'INVALID_INPUT', message: /^rateLimit\.max must be a whole number/ })
  t.equal((await app.anonKey.getKey('mobile')).rateLimit, null, 'nothing changed')
})

onRedis(t, (t) => {
  const admin = redisClient(t)
  const { namespace } = redisNamespaces(t, admin)

  t.test('two instances share each key\'s count through @fastify/rate-limit\'s Redis store, and a PATCH of the limit or the apps reaches both', async (t) => {
    const keysNamespace = namespace('abuse_keys')
    const limiterNamespace = `${namespace('abuse_limits')}:`
    const instance = async (): Promise<FastifyInstance> => {
      const client = redisClient(t)
      const store = redisStore({ client, namespace: keysNamespace })
      t.teardown(() => store.close())
      return await limitedApp(t, { store }, { redis: redisClient(t), nameSpace: limiterNamespace })
    }
    const one = await instance()
    const two = await instance()
    const mobile = await one.anonKey.createKey({ name: 'mobile', rateLimit: { max: 4, timeWindowMs: 60_000 } })
    await eventually('the key reaches instance two', async () => (await two.anonKey.verify(mobile.anonKey)).valid, 5000)
    const alternate = [one, two, one, two, one]
    t.same(await statuses(5, () => data(alternate.shift() as FastifyInstance, mobile.anonKey)), [200, 200, 200, 200, 429], 'four requests in all, whichever instance served them')
    const limited = await data(two, mobile.anonKey)
    assertError(t, limited, 429, 'RATE_LIMITED')
    t.ok(Number(limited.headers['retry-after']) > 0)

    await keysRequest(one, 'PATCH', '/mobile', { rateLimit: { max: 10, timeWindowMs: 60_000 } })
    t.equal((await data(one, mobile.anonKey)).statusCode, 200, 'the instance that changed it applies it at once')
    await eventually('instance two applies the new limit', async () => (await data(two, mobile.anonKey)).statusCode === 200, 5000)
    t.ok((await admin.keys(`${limiterNamespace}*`)).length > 0, 'the counts live in Redis, under the limiter\'s nameSpace')

    await keysRequest(one, 'PATCH', '/mobile', { allowedApps: { ios: ['com.example.app'] } })
    await eventually('instance two binds the key to the app', async () => (await data(two, mobile.anonKey)).statusCode === 403, 5000)
    assertError(t, await data(two, mobile.anonKey), 403, 'ANON_KEY_APP_NOT_ALLOWED')
    t.equal((await data(two, mobile.anonKey, { 'x-ios-bundle-identifier': 'com.example.app' })).statusCode, 200, 'the app itself still passes there')
  })
})

import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import t, { type Test } from 'tap'
import anonKey, { type FastifyAnonKeyOptions } from '../../lib/index.js'
import { assertError, bearer, JWT_SECRET } from '../helpers/app.js'
import { isTenantAdmin, tenantAdminHeaders, tenantFromHeader } from '../helpers/tenants.js'
import { watchUnhandled } from '../helpers/unhandled.js'

/** An app in tenant mode with this resolver, /data guarded, its error logs kept in `lines`. */
async function resolverApp (t: Test, tenant: unknown, extra: FastifyAnonKeyOptions = {}): Promise<{ app: FastifyInstance, lines: any[] }> {
  const lines: any[] = []
  const app = Fastify({ logger: { level: 'error', stream: { write: (line: string) => { lines.push(JSON.parse(line)) } } } })
  t.teardown(() => app.close())
  app.register(anonKey, { jwt: { secret: JWT_SECRET }, tenant: tenant as FastifyAnonKeyOptions['tenant'], isAdmin: isTenantAdmin, ...extra })
  app.register(async (guarded) => {
    guarded.addHook('onRequest', guarded.verifyAnonKey)
    guarded.get('/data', async (request) => ({ anonKey: request.anonKey }))
    // The awaited form, from an async hook of the host.
    guarded.get('/awaited', { onRequest: async (request, reply) => { await guarded.verifyAnonKey(request, reply) } }, async () => ({ ok: true }))
  })
  await app.ready()
  return { app, lines }
}

const RESOLVERS_THAT_NEVER_ANSWER_AT_ONCE: Array<[string, unknown, RegExp]> = [
  ['an async arrow function', async (request: FastifyRequest) => tenantFromHeader(request), /is an async function, so it returns a promise instead of the tenant id/],
  ['an async function with a name', async function lookUpTenant (request: FastifyRequest) { return tenantFromHeader(request) }, /is an async function/],
  ['a generator function', function * tenants (request: FastifyRequest) { yield tenantFromHeader(request) }, /is a generator function, so it returns an iterator/],
  ['an async generator function', async function * tenants (request: FastifyRequest) { yield tenantFromHeader(request) }, /is an async generator function/]
]

for (const [kind, resolver, problem] of RESOLVERS_THAT_NEVER_ANSWER_AT_ONCE) {
  t.test(`ready() refuses a tenant resolver that is ${kind}, naming the option and the fix`, async (t) => {
    const app = Fastify()
    t.teardown(() => app.close())
    app.register(anonKey, { jwt: { secret: JWT_SECRET }, tenant: resolver as FastifyAnonKeyOptions['tenant'], isAdmin: isTenantAdmin })
    const error = await app.ready().then(() => null, (error: Error & { code?: string }) => error)
    t.equal(error?.code, 'FST_ANON_KEY_INVALID_OPTION')
    t.match(error?.message, /option "tenant"/)
    t.match(error?.message, problem)
    t.match(error?.message, /Make it synchronous.*onRequest hook registered before verifyAnonKey/)
  })
}

t.test('a synchronous resolver is accepted, whatever its form (arrow, bound, method)', async (t) => {
  const holder = { header: 'x-tenant', resolve (request: FastifyRequest) { return request.headers[this.header] as string } }
  for (const resolver of [tenantFromHeader, holder.resolve.bind(holder)]) {
    const { app } = await resolverApp(t, resolver)
    const key = (await app.inject({ url: '/api/metadata/anon-key', headers: tenantAdminHeaders('acme') })).json().anonKey
    t.equal((await app.inject({ url: '/data', headers: { 'x-tenant': 'acme', ...bearer(key) } })).statusCode, 200)
  }
})

/** Resolvers that pass ready() (plain functions) but answer with a promise, as a transpiled async function does. */
const PROMISE_ANSWERS: Array<[string, (request: FastifyRequest) => any]> = [
  ['a promise of the right tenant', function findTenant (request) { return Promise.resolve(tenantFromHeader(request)) }],
  ['a promise that rejects', function findTenant () { return Promise.reject(new Error('tenant lookup failed')) }],
  ['a thenable that is not a Promise', function findTenant (request) { return { then: (resolve: (id: unknown) => void) => resolve(tenantFromHeader(request)) } }]
]

for (const [answer, resolver] of PROMISE_ANSWERS) {
  t.test(`a resolver that answers with ${answer}: 500 INTERNAL_ERROR and an error log naming the resolver, never a silent 401 or 404`, async (t) => {
    const unhandled = watchUnhandled(t)
    const { app, lines } = await resolverApp(t, resolver)
    const key = 'anon_' + 'a'.repeat(64)
    for (const url of ['/data', '/awaited']) {
      const response = await app.inject({ url, headers: { 'x-tenant': 'acme', ...bearer(key) } })
      assertError(t, response, 500, 'INTERNAL_ERROR')
      t.notMatch(response.body, /resolver|findTenant|tenant lookup/, `${url}: the client is not told the server's mistake`)
    }
    const admin = await app.inject({ url: '/api/metadata/anon-key', headers: tenantAdminHeaders('acme') })
    assertError(t, admin, 500, 'INTERNAL_ERROR')
    t.notMatch(admin.body, /resolver|findTenant/, 'admin: the client is not told the server\'s mistake')
    const named = lines.filter((line) => /the tenant resolver \(findTenant\), option "tenant", returned a promise.*Make it synchronous/.test(line.err?.message ?? ''))
    t.equal(named.length, 3, `each of the three requests logged an error naming the resolver: ${JSON.stringify(lines.map((line) => line.msg))}`)
    t.ok(named.every((line) => line.level === 50), 'at level error')
    await new Promise((resolve) => setImmediate(resolve))
    t.same(unhandled, [], 'no unhandled rejection')
  })
}

t.test('a resolver that answers with a promise for one request only: that request gets 500, the others are judged as usual', async (t) => {
  const resolver = (request: FastifyRequest): any => request.headers['x-slow'] === 'yes' ? Promise.resolve('acme') : tenantFromHeader(request)
  const { app, lines } = await resolverApp(t, resolver)
  const key = (await app.inject({ url: '/api/metadata/anon-key', headers: tenantAdminHeaders('acme') })).json().anonKey
  t.equal((await app.inject({ url: '/data', headers: { 'x-tenant': 'acme', ...bearer(key) } })).statusCode, 200, 'a synchronous answer verifies')
  assertError(t, await app.inject({ url: '/data', headers: { 'x-tenant': 'acme', 'x-slow': 'yes', ...bearer(key) } }), 500, 'INTERNAL_ERROR')
  assertError(t, await app.inject({ url: '/data', headers: { 'x-tenant': 'not a tenant!', ...bearer(key) } }), 401, 'AUTH_INVALID_CREDENTIALS')
  const named = lines.filter((line) => /returned a promise/.test(line.err?.message ?? ''))
  t.equal(named.length, 1, 'one resolver error logged, for the request whose tenant came as a promise')
})

t.test('an anonymous resolver that answers with a promise is named by its option', async (t) => {
  const anonymous = [(): Promise<string> => Promise.resolve('acme')][0]
  t.equal(anonymous.name, '', 'control: the function has no name')
  const { app, lines } = await resolverApp(t, anonymous)
  assertError(t, await app.inject({ url: '/data', headers: bearer('anon_' + 'b'.repeat(64)) }), 500, 'INTERNAL_ERROR')
  t.ok(lines.some((line) => /the tenant resolver, option "tenant", returned a promise/.test(line.err?.message ?? '')), 'the log names the option')
})

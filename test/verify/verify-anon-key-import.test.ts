import fastifyAuth from '@fastify/auth'
import Fastify, { type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import t from 'tap'
import { assertError, bearer, JWT_SECRET } from '../helpers/app.js'
import anonKey, { verifyAnonKey } from '../../lib/index.js'
import { fingerprintOf } from '../../lib/stores/index.js'

/** An app whose logs are kept, parsed, in `lines`. */
function loggedApp (t: { teardown: (fn: () => unknown) => void }): { app: FastifyInstance, lines: any[] } {
  const lines: any[] = []
  const app = Fastify({ logger: { level: 'error', stream: { write: (line: string) => { lines.push(JSON.parse(line)) } } } })
  t.teardown(() => app.close())
  return { app, lines }
}

const FIX = /not registered in its context or any parent.*Register the plugin/

t.test('the imported verifyAnonKey guards a route declared before the plugin was registered without await', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  // The trap of the decorator: here app.verifyAnonKey would be undefined, and Fastify would serve the route unguarded.
  t.equal((app as any).verifyAnonKey, undefined, 'control: the decorator does not exist yet')
  app.get('/rows', { onRequest: verifyAnonKey }, async (request) => ({ anonKey: request.anonKey }))
  app.register(anonKey, { jwt: { secret: JWT_SECRET } })
  await app.ready()
  const key = (await app.anonKey.get()) as string
  assertError(t, await app.inject({ url: '/rows' }), 401, 'AUTH_INVALID_CREDENTIALS')
  const response = await app.inject({ url: '/rows', headers: bearer(key) })
  t.equal(response.statusCode, 200, `client got ${response.statusCode} ${response.body}`)
  t.same(response.json(), { anonKey: { role: 'anon', name: 'default', fingerprint: fingerprintOf(key), expiresAt: null } })
})

t.test('the imported verifyAnonKey works as a global hook and in child contexts of the plugin\'s context', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(anonKey, { jwt: { secret: JWT_SECRET } })
  app.register(async (child) => {
    child.register(async (grandchild) => {
      grandchild.addHook('onRequest', verifyAnonKey)
      grandchild.get('/deep', async (request) => ({ fingerprint: request.anonKey?.fingerprint }))
    })
  })
  await app.ready()
  const key = (await app.anonKey.get()) as string
  t.equal((await app.inject({ url: '/deep', headers: bearer(key) })).json().fingerprint, fingerprintOf(key))
  assertError(t, await app.inject({ url: '/deep', headers: bearer('anon_nope') }), 401, 'AUTH_INVALID_CREDENTIALS')
})

t.test('in a sibling plugin that cannot see the plugin, the import fails closed with 500 and a log naming the fix', async (t) => {
  const { app, lines } = loggedApp(t)
  // The plugin registered inside an encapsulated plugin: its decorators stay there.
  app.register(async (keys) => {
    await keys.register(anonKey, { jwt: { secret: JWT_SECRET } })
    keys.get('/inside', { onRequest: verifyAnonKey }, async () => ({ ok: true }))
  })
  let sibling: FastifyInstance | undefined
  app.register(async (other) => {
    sibling = other
    other.get('/outside', { onRequest: verifyAnonKey }, async () => ({ reached: 'handler' }))
  })
  await app.ready()
  t.equal((sibling as any).verifyAnonKey, undefined, 'control: the decorator form would be undefined here')
  for (const headers of [{}, bearer('anon_nope'), bearer(`anon_${'a'.repeat(64)}`)]) {
    assertError(t, await app.inject({ url: '/outside', headers }), 500, 'INTERNAL_ERROR')
  }
  const logged = lines.filter((line) => FIX.test(line.msg))
  t.equal(logged.length, 3, 'each refused request logs the fix at error level')
  t.equal(logged[0].level, 50)
  t.equal(logged[0].route, '/outside', 'the log names the route')
  assertError(t, await app.inject({ url: '/inside' }), 401, 'AUTH_INVALID_CREDENTIALS')
})

t.test('in an app without the plugin, the import never lets a request through, with or without a key', async (t) => {
  const { app, lines } = loggedApp(t)
  let reached = 0
  app.get('/x', { onRequest: verifyAnonKey }, async () => { reached++; return { ok: true } })
  app.get('/awaited', {
    onRequest: async (request, reply) => { await verifyAnonKey(request, reply) }
  }, async () => { reached++; return { ok: true } })
  await app.ready()
  for (const url of ['/x', '/awaited']) {
    const response = await app.inject({ url, headers: bearer(`anon_${'b'.repeat(64)}`) })
    assertError(t, response, 500, 'INTERNAL_ERROR')
    t.notMatch(response.body, /stack|at .*\.ts/, 'no stack reaches the client')
  }
  t.equal(reached, 0, 'no handler ran')
  t.equal(lines.filter((line) => FIX.test(line.msg)).length, 2)
})

t.test('registered through fastify-plugin in a sibling, the plugin is visible to the import everywhere', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(fp(async (keys) => { await keys.register(anonKey, { jwt: { secret: JWT_SECRET } }) }))
  app.register(async (other) => { other.get('/other', { onRequest: verifyAnonKey }, async (request) => request.anonKey) })
  await app.ready()
  const key = (await app.anonKey.get()) as string
  t.equal((await app.inject({ url: '/other', headers: bearer(key) })).statusCode, 200)
  assertError(t, await app.inject({ url: '/other' }), 401, 'AUTH_INVALID_CREDENTIALS')
})

t.test('two plugins in two encapsulated contexts: the import uses the one of the route\'s context', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  const keys: Record<string, string> = {}
  for (const name of ['a', 'b']) {
    app.register(async (project) => {
      await project.register(anonKey, { jwt: { secret: JWT_SECRET }, prefix: `/${name}/api` })
      project.get(`/${name}/rows`, { onRequest: verifyAnonKey }, async () => ({ project: name }))
      project.addHook('onReady', async () => { keys[name] = (await project.anonKey.get()) as string })
    })
  }
  await app.ready()
  t.not(keys.a, keys.b)
  t.equal((await app.inject({ url: '/a/rows', headers: bearer(keys.a) })).statusCode, 200)
  t.equal((await app.inject({ url: '/b/rows', headers: bearer(keys.b) })).statusCode, 200)
  assertError(t, await app.inject({ url: '/a/rows', headers: bearer(keys.b) }), 401, 'AUTH_INVALID_CREDENTIALS')
  assertError(t, await app.inject({ url: '/b/rows', headers: bearer(keys.a) }), 401, 'AUTH_INVALID_CREDENTIALS')
})

t.test('the import works inside @fastify/auth beside another strategy', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(anonKey, { jwt: { secret: JWT_SECRET } })
  await app.register(fastifyAuth)
  const service = async (request: any): Promise<void> => {
    if (request.headers['x-service'] !== 'yes') throw Object.assign(new Error('no service token'), { statusCode: 401 })
  }
  app.get('/rows', { onRequest: app.auth([verifyAnonKey, service]) }, async (request) => ({ anonKey: request.anonKey }))
  await app.ready()
  const key = (await app.anonKey.get()) as string
  t.equal((await app.inject({ url: '/rows', headers: bearer(key) })).json().anonKey.fingerprint, fingerprintOf(key))
  t.same((await app.inject({ url: '/rows', headers: { 'x-service': 'yes' } })).json(), { anonKey: null })
  t.equal((await app.inject({ url: '/rows' })).statusCode, 401)
})

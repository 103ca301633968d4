import Fastify, { type FastifyInstance } from 'fastify'
import t from 'tap'
import anonKey, { verifyAnonKey } from '../../lib/index.js'
import { JWT_SECRET } from '../helpers/app.js'

/** An app whose warnings are kept, as its logger writes them. */
function appWithWarnings (): { app: FastifyInstance, warnings: () => string[] } {
  const lines: Array<{ msg: string }> = []
  const app = Fastify({ logger: { level: 'warn', stream: { write: (line: string) => { lines.push(JSON.parse(line)) } } } })
  return { app, warnings: () => lines.map((line) => line.msg).filter((message) => message.startsWith('fastify-anon-key: route ')) }
}

t.test('a route given app.verifyAnonKey read before the plugin registered is warned of at start-up, with the fix', async (t) => {
  const { app, warnings } = appWithWarnings()
  t.teardown(() => app.close())
  const guard = app.verifyAnonKey // undefined: the plugin has not registered yet
  app.register(anonKey, { jwt: { secret: JWT_SECRET } })
  app.register(async (routes) => {
    routes.get('/todos', { onRequest: guard }, async () => ({ served: true }))
  })
  await app.ready()
  t.same(warnings(), [
    'fastify-anon-key: route GET /todos was declared with onRequest: undefined, so Fastify serves it without that hook: if it was meant to be ' +
    'verifyAnonKey, no anon key is checked there. app.verifyAnonKey is undefined before the plugin has registered and in a sibling context; ' +
    'import { verifyAnonKey } from \'fastify-anon-key\' and pass that.'
  ], 'one warning for the route (not a second for its HEAD twin)')
  t.equal((await app.inject({ url: '/todos' })).statusCode, 200, 'what it warns of: the route is served without any key')
})

t.test('each route and method with an undefined guard hook is named, with every such hook', async (t) => {
  const { app, warnings } = appWithWarnings()
  t.teardown(() => app.close())
  await app.register(anonKey, { jwt: { secret: JWT_SECRET } })
  const misspelt = (app as any).verifyAnonkey
  app.post('/todos', { preHandler: misspelt, preValidation: misspelt }, async () => ({}))
  app.delete('/todos', { preParsing: misspelt }, async () => ({}))
  app.register(async (child) => {
    child.put('/todos/:id', { onRequest: misspelt }, async () => ({}))
  }, { prefix: '/v2' })
  await app.ready()
  t.same(warnings().map((line) => line.slice(0, line.indexOf(', so Fastify'))), [
    'fastify-anon-key: route POST /todos was declared with preValidation: undefined, preHandler: undefined',
    'fastify-anon-key: route DELETE /todos was declared with preParsing: undefined',
    'fastify-anon-key: route PUT /v2/todos/:id was declared with onRequest: undefined'
  ])
})

t.test('routes with a guard, with none, and the plugin\'s own routes are not warned of', async (t) => {
  const { app, warnings } = appWithWarnings()
  t.teardown(() => app.close())
  await app.register(anonKey, { jwt: { secret: JWT_SECRET } })
  app.get('/imported', { onRequest: verifyAnonKey }, async () => ({}))
  app.get('/decorator', { onRequest: app.verifyAnonKey }, async () => ({}))
  app.get('/in-a-list', { preHandler: [verifyAnonKey] }, async () => ({}))
  app.get('/public', async () => ({}))
  app.get('/no-hooks', { onRequest: [] }, async () => ({}))
  await app.ready()
  t.same(warnings(), [])
  t.equal((await app.inject({ url: '/imported' })).statusCode, 401, 'the guarded routes are guarded')
})

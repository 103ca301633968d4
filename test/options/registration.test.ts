import Fastify from 'fastify'
import t from 'tap'
import { JWT_SECRET } from '../helpers/app.js'
import anonKey from '../../lib/index.js'

const registeredTwice = /already registered in this context or a parent of it\. Register it once, at the root of the app/

t.test('registering the plugin twice in one context fails ready() saying to register it once', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(anonKey, { jwt: { secret: JWT_SECRET } })
  app.register(anonKey, { jwt: { secret: JWT_SECRET } })
  await t.rejects(async () => { await app.ready() }, { code: 'FST_ANON_KEY_ALREADY_REGISTERED', message: registeredTwice })
})

t.test('registering it again in a child of a context that has it says the same, not FST_ERR_DEC_ALREADY_PRESENT', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(anonKey, { jwt: { secret: JWT_SECRET } })
  app.register(async (child) => { child.register(anonKey, { jwt: { secret: JWT_SECRET }, prefix: '/other' }) })
  await t.rejects(async () => { await app.ready() }, { code: 'FST_ANON_KEY_ALREADY_REGISTERED', message: registeredTwice })
})

t.test('registered in two sibling contexts with one prefix, ready() says to register it once, not FST_ERR_DUPLICATED_ROUTE', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(async (api) => { await api.register(anonKey, { jwt: { secret: JWT_SECRET } }) })
  app.register(async (other) => { await other.register(anonKey, { jwt: { secret: JWT_SECRET } }) })
  const error: any = await app.ready().then(() => null, (error: unknown) => error)
  t.equal(error?.code, 'FST_ANON_KEY_ALREADY_REGISTERED')
  t.match(error.message,
    /admin routes under prefix "\/api" are already declared, most likely by another registration of the plugin in a sibling context\. Register it once, at the root/)
  t.match(error.message, /its own prefix and its own store namespace/)
  t.equal(error.cause?.code, 'FST_ERR_DUPLICATED_ROUTE', 'Fastify\'s own error stays as the cause')
})

t.test('in two sibling contexts with their own prefixes, both registrations work', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(async (web) => { await web.register(anonKey, { jwt: { secret: JWT_SECRET }, prefix: '/web-admin' }) })
  app.register(async (mobile) => { await mobile.register(anonKey, { jwt: { secret: JWT_SECRET }, prefix: '/mobile-admin' }) })
  await app.ready()
  t.ok(app.hasRoute({ method: 'GET', url: '/web-admin/metadata/anon-key' }))
  t.ok(app.hasRoute({ method: 'GET', url: '/mobile-admin/metadata/anon-key' }))
})

t.test('an error a host onRoute hook throws on an admin route reaches ready() unchanged', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.addHook('onRoute', (route) => { if (route.url.endsWith('/rotate')) throw new Error('no rotation routes in this app') })
  app.register(anonKey, { jwt: { secret: JWT_SECRET } })
  await t.rejects(async () => { await app.ready() }, { message: 'no rotation routes in this app' })
})

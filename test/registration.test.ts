import Fastify from 'fastify'
import t from 'tap'
import { JWT_SECRET } from './helpers/app.js'
import anonKey from '../lib/index.js'

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

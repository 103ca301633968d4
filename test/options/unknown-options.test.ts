import Fastify from 'fastify'
import t from 'tap'
import { JWT_SECRET, startApp } from '../helpers/app.js'
import anonKey, { type FastifyAnonKeyOptions, type OptionErrorCode } from '../../lib/index.js'

async function readyError (options: Record<string, unknown>): Promise<any> {
  const app = Fastify()
  app.register(anonKey, { jwt: { secret: JWT_SECRET }, ...options } as FastifyAnonKeyOptions)
  try {
    await app.ready()
    return null
  } catch (error) {
    return error
  } finally {
    await app.close().catch(() => {})
  }
}

const typos: Array<[typed: string, meant: string]> = [
  ['gracePeriodHours', 'defaultGracePeriodHours'],
  ['maxGracePeriod', 'maxGracePeriodHours'],
  ['initalKey', 'initialKey'],
  ['cacheTTL', 'cacheTtlMs'],
  ['apikeyheader', 'apiKeyHeader'],
  ['storeTimeout', 'storeTimeoutMs']
]

for (const [typed, meant] of typos) {
  t.test(`an unknown option "${typed}" fails ready() naming "${meant}" as the closest known one`, async (t) => {
    const error = await readyError({ [typed]: 24 })
    t.ok(error, `ready() should reject ${typed}; it resolved, and the option would be silently ignored`)
    const code: OptionErrorCode = 'FST_ANON_KEY_UNKNOWN_OPTION'
    t.equal(error.code, code, 'a code hosts can match on, exported as a type')
    t.ok(error instanceof TypeError, 'a wrong argument is a TypeError')
    t.match(error.message, `unknown option "${typed}". Did you mean "${meant}"?`)
    t.match(error.message, /Known options: store, jwt, /, 'the message lists what is known')
  })
}

const misplaced: Array<[option: string, where: RegExp]> = [
  ['secret', /It belongs inside jwt: \{ jwt: \{ secret: process\.env\.JWT_SECRET \} \}/],
  ['namespace', /an option of the store: pass it to the store factory, as in \{ store: postgresStore\(\{ pool, namespace \}\) \}/],
  ['pool', /store factory, as in \{ store: postgresStore\(\{ pool \}\) \}/],
  ['client', /store factory, as in \{ store: redisStore\(\{ client \}\) \}/],
  ['database', /store factory, as in \{ store: sqliteStore\(\{ database \}\) \}/],
  ['catchUpMs', /store factory, as in \{ store: postgresStore\(\{ pool, catchUpMs \}\) \}/]
]

for (const [option, where] of misplaced) {
  t.test(`"${option}" given to the plugin instead of where it belongs fails ready() saying where it goes`, async (t) => {
    const error = await readyError({ [option]: 'x' })
    t.equal(error?.code, 'FST_ANON_KEY_UNKNOWN_OPTION')
    t.match(error.message, `unknown option "${option}".`)
    t.match(error.message, where)
    t.notMatch(error.message, /Did you mean/, 'no closest-name guess where the place is known')
  })
}

t.test("Fastify's own register options are not unknown", async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(anonKey, { jwt: { secret: JWT_SECRET }, prefix: '/admin', logLevel: 'warn', logSerializers: {} } as FastifyAnonKeyOptions)
  await app.ready()
  t.ok(await app.anonKey.get(), 'the plugin started')
})

t.test('every known option is accepted together', async (t) => {
  const app = await startApp(t, {
    jwt: { secret: JWT_SECRET },
    isAdmin: () => true,
    prefix: '/api',
    defaultGracePeriodHours: 1,
    maxGracePeriodHours: 2,
    autoInitialize: true,
    initialKey: 'anon_' + 'a'.repeat(64),
    cacheTtlMs: 1000,
    storeTimeoutMs: 1000,
    apiKeyHeader: true,
    bodyLimit: 1024,
    usageFlushMs: 1000
  })
  t.equal(await app.anonKey.get(), 'anon_' + 'a'.repeat(64))
})

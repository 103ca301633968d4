import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import anonKey, { memoryStore, postgresStore, redisStore, sqliteStore, type AnonKeyStore } from '../../lib/index.js'
import { adminHeaders, assertError, buildApp, JWT_SECRET } from '../helpers/app.js'
import { keysRequest } from '../helpers/named-keys.js'
import { createPool, dropTableAtEnd, onPostgres } from '../helpers/postgres.js'
import { onRedis, redisClient, redisNamespaces } from '../helpers/redis.js'
import { openDatabase, sqliteFile } from '../helpers/sqlite.js'
import { uniqueNamespace } from '../helpers/services.js'

// Every hostile string against every field, on four stores.
t.setTimeout(180_000)

/** Strings that are not text: a NUL, and halves of surrogate pairs alone, where an attacker would put them. */
const NOT_TEXT: Record<string, string> = {
  'a NUL in the middle': 'web\u0000app',
  'a NUL at the end': 'web\u0000',
  'a NUL alone': '\u0000',
  'a lone high surrogate': 'a\uD800b',
  'a lone low surrogate': 'a\uDC00b',
  'a high surrogate at the end': 'ok\uD83D',
  'a pair written backwards': '\uDE00\uD83D'
}

/** Text with characters beyond the basic plane (pairs, whole) and other control characters, which every store keeps. */
const TEXT = 'Web app 😀 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \u0001\u001f\uFFFD\uFEFF end'

/** What an app holds, to compare before and after the hostile requests: nothing may change. */
async function keysOf (app: FastifyInstance): Promise<string> {
  return (await keysRequest(app, 'GET')).body
}

/** The app's error lines, kept; a store outage would be logged as one. */
function loggedApp (t: Test, store: AnonKeyStore): { app: FastifyInstance, lines: any[] } {
  const lines: any[] = []
  const app = Fastify({ logger: { level: 'error', stream: { write: (line: string) => { lines.push(JSON.parse(line)) } } } })
  app.register(anonKey, { jwt: { secret: JWT_SECRET }, store })
  t.teardown(() => app.close())
  return { app, lines }
}

/** Every string field of the admin routes and of app.anonKey, with each hostile string, on this store. */
function refusedEverywhere (t: Test, makeStore: () => AnonKeyStore): void {
  t.test('a NUL or a lone surrogate in any string field answers 400 INVALID_INPUT naming the field, and nothing changes', async (t) => {
    const { app, lines } = loggedApp(t, makeStore())
    await app.ready()
    t.equal((await keysRequest(app, 'POST', '', { name: 'web' })).statusCode, 201, 'control: a named key to PATCH')
    const before = await keysOf(app)
    for (const [what, hostile] of Object.entries(NOT_TEXT)) {
      const origin = `https://app${hostile}.example.com`
      const cases: Array<[string, Promise<{ statusCode: number, body: string }>, RegExp]> = [
        ['create: description', keysRequest(app, 'POST', '', { name: 'ios', description: hostile }), /^description contains (a NUL character|half of a surrogate pair)/],
        ['create: name', keysRequest(app, 'POST', '', { name: hostile }), /^name /],
        ['create: allowedOrigins', keysRequest(app, 'POST', '', { name: 'ios', allowedOrigins: [origin] }), /^allowedOrigins\[0\] /],
        ['create: a second origin', keysRequest(app, 'POST', '', { name: 'ios', allowedOrigins: ['https://ok.example.com', origin] }), /^allowedOrigins\[1\] /],
        ['PATCH: description', keysRequest(app, 'PATCH', '/web', { description: hostile }), /^description contains/],
        ['PATCH default: description', keysRequest(app, 'PATCH', '/default', { description: hostile }), /^description contains/],
        ['PATCH: allowedOrigins', keysRequest(app, 'PATCH', '/web', { allowedOrigins: [origin] }), /^allowedOrigins\[0\] /],
        ['PATCH: both, the origin good', keysRequest(app, 'PATCH', '/web', { description: hostile, allowedOrigins: ['https://ok.example.com'] }), /^description contains/],
        ['create: an Android package', keysRequest(app, 'POST', '', { name: 'android', allowedApps: { android: [{ packageName: `com.example${hostile}`, certSha1: 'a'.repeat(40) }] } }), /allowedApps/],
        ['create: an Android certificate', keysRequest(app, 'POST', '', { name: 'android', allowedApps: { android: [{ packageName: 'com.example.app', certSha1: 'a'.repeat(39) + hostile }] } }), /allowedApps/],
        ['PATCH: an iOS bundle id', keysRequest(app, 'PATCH', '/web', { allowedApps: { ios: [`com.example${hostile}`] } }), /allowedApps/]
      ]
      for (const [field, sent, names] of cases) {
        const response = await sent
        assertError(t, response, 400, 'INVALID_INPUT')
        t.match(JSON.parse(response.body).message, names, `${what}, ${field}: the message names the field`)
        if (field.includes('description')) t.notMatch(JSON.parse(response.body).nextActions, /gracePeriodHours/, `${what}, ${field}: not the rotate body's advice`)
      }
      const calls: Array<[string, Promise<unknown>]> = [
        ['createKey description', app.anonKey.createKey({ name: 'ios', description: hostile })],
        ['createKey name', app.anonKey.createKey({ name: hostile })],
        ['createKey allowedOrigins', app.anonKey.createKey({ name: 'ios', allowedOrigins: [origin] })],
        ['updateKey description', app.anonKey.updateKey('web', { description: hostile })],
        ['updateKey name', app.anonKey.updateKey(hostile, { description: 'x' })],
        ['getKey name', app.anonKey.getKey(hostile)],
        ['rotate name', app.anonKey.rotate({ name: hostile })],
        ['revokePrevious fingerprint', app.anonKey.revokePrevious(`0123456789a${hostile}`)]
      ]
      for (const [call, sent] of calls) {
        await t.rejects(sent, { code: 'INVALID_INPUT' }, `${what}: app.anonKey.${call} rejects with INVALID_INPUT`)
      }
    }
    for (const path of ['/%00', '/web%00', '/web/previous/0123456789a%00', '/%ED%A0%80', '/web/previous/%ED%A0%80']) {
      const response = await app.inject({ method: 'DELETE', url: `/api/secrets/anon-keys${path}`, headers: adminHeaders() })
      t.equal(response.statusCode, 400, `DELETE ${path}: 400 (${response.body})`)
    }
    t.equal(await keysOf(app), before, 'nothing changed')
    t.same(lines.filter((line) => line.level >= 50), [], 'nothing was logged as an error: no store saw the strings')
  })

  t.test('text beyond the basic plane and other control characters is kept as sent', async (t) => {
    const store = makeStore()
    const app = buildApp({ store })
    t.teardown(() => app.close())
    await app.ready()
    t.equal((await keysRequest(app, 'POST', '', { name: 'web', description: TEXT })).statusCode, 201)
    t.equal((await keysRequest(app, 'PATCH', '/default', { description: TEXT })).statusCode, 200)
    const stored = await store.load('')
    t.same(stored.state.keys.map((key) => key.description), [TEXT, TEXT], 'the store holds it, character for character')
  })
}

t.test('on the memory store', async (t) => { refusedEverywhere(t, () => memoryStore()) })

t.test('on the SQLite store', async (t) => {
  const file = sqliteFile(t)
  refusedEverywhere(t, () => sqliteStore({ database: openDatabase(t, file), namespace: uniqueNamespace('text') }))
})

onPostgres(t, (t) => {
  const tableName = uniqueNamespace('anon_text')
  dropTableAtEnd(t, createPool(t), tableName)
  refusedEverywhere(t, () => postgresStore({ pool: createPool(t), tableName, namespace: uniqueNamespace('text') }))
})

onRedis(t, (t) => {
  const admin = redisClient(t)
  const { namespace } = redisNamespaces(t, admin)
  refusedEverywhere(t, () => redisStore({ client: redisClient(t), namespace: namespace('text') }))
})

t.test('a tenant id or a store namespace that is not text is refused by name', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(anonKey, { jwt: { secret: JWT_SECRET }, tenant: () => null, authorize: () => true })
  const pool = createPool(t)
  const database = openDatabase(t, sqliteFile(t))
  for (const [what, hostile] of Object.entries(NOT_TEXT)) {
    t.throws(() => app.anonKey.forTenant(`acme${hostile}`), { code: 'INVALID_INPUT', message: /tenant id/ }, `${what}: forTenant`)
    for (const [factory, make] of [
      // A pool that never connects, a database file never written: the factories refuse before using either.
      ['postgresStore', () => postgresStore({ pool, namespace: `app${hostile}` })],
      ['sqliteStore', () => sqliteStore({ database, namespace: `app${hostile}` })]
    ] as const) {
      t.throws(make, { code: 'FST_ANON_KEY_INVALID_STORE_OPTION', message: new RegExp(`${factory}\\(\\) option "namespace" contains .* Pick a name without it`) }, `${what}: ${factory}`)
    }
  }
})

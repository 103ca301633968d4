import Database from 'better-sqlite3'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import pg from 'pg'
import t, { type Test } from 'tap'
import { JWT_SECRET } from '../helpers/app.js'
import { freePort } from '../helpers/free-port.js'
import anonKey, { memoryStore, postgresStore, redisStore, sqliteStore, type PgPool, type RedisClient, type SqliteDatabase } from '../../lib/index.js'

const storeOption = (message: RegExp) => ({ code: 'FST_ANON_KEY_INVALID_STORE_OPTION', message })

t.test('redisStore() with no options fails at the call, saying what to pass', async (t) => {
  t.throws(() => (redisStore as (options?: unknown) => unknown)(),
    storeOption(/redisStore\(\) needs an options object, got nothing\. Call redisStore\(\{ client: new Redis/))
  t.throws(() => (redisStore as (options?: unknown) => unknown)('redis://127.0.0.1:6379'), storeOption(/redisStore\(\) needs an options object, got "redis:\/\/127\.0\.0\.1:6379"\. Call redisStore\(\{ client/))
  t.throws(() => (redisStore as (options?: unknown) => unknown)(null), storeOption(/got null/))
})

t.test('redisStore({ redis }) fails at the call, naming the wrong option and the right one', async (t) => {
  const redis = new Redis({ lazyConnect: true })
  t.teardown(() => redis.disconnect())
  t.throws(() => redisStore({ redis } as unknown as { client: RedisClient }),
    storeOption(/redisStore\(\) has no option "redis" \(its options are client, namespace, keyPrefix, catchUpMs\)/))
})

t.test('redisStore with a client that is not an ioredis client names the option and what is missing', async (t) => {
  t.throws(() => redisStore({ client: {} as RedisClient }),
    storeOption(/option "client" must be an ioredis client \(Redis or Cluster\), and it has no hmget\(\), hgetall\(\)/))
  t.throws(() => redisStore({ client: undefined as unknown as RedisClient }), storeOption(/option "client" .* and it is missing/))
})

t.test('a pg.Client passed as pool is refused at the call, not by a crash at the first change', async (t) => {
  const client = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/test' })
  t.throws(() => postgresStore({ pool: client as unknown as PgPool }),
    storeOption(/option "pool" must be a pg Pool, and it is a single pg\.Client.*Pass new pg\.Pool/))
})

t.test('postgresStore with no options, or a misnamed one, fails at the call', async (t) => {
  t.throws(() => (postgresStore as (options?: unknown) => unknown)(), storeOption(/postgresStore\(\) needs an options object, got nothing/))
  t.throws(() => postgresStore({ client: {} } as unknown as { pool: PgPool }),
    storeOption(/postgresStore\(\) has no option "client" \(its options are pool, namespace, tableName, legacyTableName, channel, listenPool, catchUpMs, listen\)/))
})

t.test('a look-alike pool whose connect() gives no releasable connection fails ready(), and the process lives on', async (t) => {
  const lookAlike: PgPool = {
    query: async () => ({ rows: [] }),
    connect: async () => ({ query: async () => ({ rows: [] }) }) as never
  }
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(anonKey, { jwt: { secret: JWT_SECRET }, store: postgresStore({ pool: lookAlike }) })
  await t.rejects(async () => { await app.ready() }, {
    code: 'STORE_UNAVAILABLE',
    message: /failed during subscribe: fastify-anon-key: postgresStore\(\) option "pool": its connect\(\) did not give a pooled connection/
  })
})

t.test('a PostgreSQL connection failure at start-up names its cause', async (t) => {
  const pool = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/test' })
  t.teardown(() => pool.end())
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(anonKey, { jwt: { secret: JWT_SECRET }, store: postgresStore({ pool }) })
  await t.rejects(async () => { await app.ready() }, { code: 'STORE_UNAVAILABLE', message: /^The key store failed during subscribe: connect ECONNREFUSED 127\.0\.0\.1:1$/ })
})

/** Starts an app on a Redis store whose client points at `port` on 127.0.0.1; resolves to ready()'s rejection. */
async function redisStartUpFailure (t: Test, port: number): Promise<unknown> {
  const client = new Redis({ host: '127.0.0.1', port })
  client.on('error', () => {}) // the app's own client: ioredis retries, and reports each failure here
  t.teardown(() => client.disconnect())
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(anonKey, { jwt: { secret: JWT_SECRET }, store: redisStore({ client }), storeTimeoutMs: 500 })
  return app.ready().then(() => null, (error: unknown) => error)
}

t.test('a Redis that refuses connections at start-up: ready() names the cause after storeTimeoutMs', async (t) => {
  const port = await freePort()
  t.match(await redisStartUpFailure(t, port), {
    code: 'STORE_UNAVAILABLE',
    message: new RegExp(`^The key store did not answer subscribe within 500 ms: connect ECONNREFUSED 127\\.0\\.0\\.1:${port}$`)
  })
})

t.test('a Redis that accepts connections and never answers: ready() says the listening connection was not ready', async (t) => {
  const sockets = new Set<Socket>()
  const silent = createServer((socket) => { sockets.add(socket) })
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { for (const socket of sockets) socket.destroy(); silent.close() })
  t.match(await redisStartUpFailure(t, (silent.address() as AddressInfo).port), {
    code: 'STORE_UNAVAILABLE',
    message: /^The key store did not answer subscribe within 500 ms: fastify-anon-key: the Redis listening connection was not ready$/
  })
})

t.test('catchUpMs must be a whole number of milliseconds from 50 to 60,000, on either store', async (t) => {
  const redis = new Redis({ lazyConnect: true })
  t.teardown(() => redis.disconnect())
  const pool = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:5432/test' })
  t.teardown(() => pool.end())
  t.throws(() => redisStore({ client: redis, catchUpMs: 49 }),
    storeOption(/redisStore\(\) option "catchUpMs" must be a whole number of milliseconds from 50 to 60000, got 49\. .*leave it out for 1000\./))
  for (const value of [0, 60_001, 1.5, '1000', null]) {
    t.throws(() => redisStore({ client: redis, catchUpMs: value as number }), storeOption(/redisStore\(\) option "catchUpMs" must be a whole number/), `refuses ${JSON.stringify(value)}`)
    t.throws(() => postgresStore({ pool, catchUpMs: value as number }), storeOption(/postgresStore\(\) option "catchUpMs" must be a whole number/), `refuses ${JSON.stringify(value)}`)
  }
  t.doesNotThrow(() => redisStore({ client: redis, catchUpMs: 50 }))
  t.doesNotThrow(() => postgresStore({ pool, catchUpMs: 60_000 }))
})

t.test('listenPool is checked like pool: a pool, not a pg.Client or something else', async (t) => {
  const pool = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:5432/test' })
  t.teardown(() => pool.end())
  const client = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/test' })
  t.throws(() => postgresStore({ pool, listenPool: client as unknown as PgPool }),
    storeOption(/option "listenPool" must be a pg Pool, and it is a single pg\.Client/))
  t.throws(() => postgresStore({ pool, listenPool: {} as PgPool }),
    storeOption(/option "listenPool" must be a pg Pool \(an object with query\(\) and connect\(\)\), and it has no query\(\), connect\(\)/))
})

t.test('listen is true or false, and listen: false refuses a listenPool it would never use', async (t) => {
  const pool = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:5432/test' })
  t.teardown(() => pool.end())
  for (const value of ['false', 0, null, {}]) {
    t.throws(() => postgresStore({ pool, listen: value as boolean }),
      storeOption(/postgresStore\(\) option "listen" must be true or false, got .*pass false to rely on the poll alone/), `refuses ${JSON.stringify(value)}`)
  }
  t.throws(() => postgresStore({ pool, listen: false, listenPool: pool }),
    storeOption(/options "listen: false" and "listenPool" contradict each other.*Pass one or the other/))
  t.doesNotThrow(() => postgresStore({ pool, listen: true, listenPool: pool }))
  t.doesNotThrow(() => postgresStore({ pool, listen: false }))
})

t.test('memoryStore() still takes no options', async (t) => {
  t.equal(memoryStore().namespace, 'default')
})

t.test('sqliteStore without a database, or with a misnamed option, fails at the call saying what to pass', async (t) => {
  t.throws(() => (sqliteStore as (options?: unknown) => unknown)(),
    storeOption(/sqliteStore\(\) needs an options object, got nothing\. Call sqliteStore\(\{ database: new Database\('keys\.db'\) \}\)/))
  t.throws(() => sqliteStore({ db: {} } as unknown as { database: SqliteDatabase }),
    storeOption(/sqliteStore\(\) has no option "db" \(its options are database, namespace, tableName, catchUpMs\)/))
  t.throws(() => sqliteStore({ database: { prepare () {} } as unknown as SqliteDatabase }),
    storeOption(/option "database" must be a better-sqlite3 Database or a node:sqlite DatabaseSync, and it has no exec\(\)\. Pass sqliteStore/))
})

t.test('sqliteStore refuses a namespace, table name or poll interval it cannot use, naming the option', async (t) => {
  const database = new Database(':memory:')
  t.teardown(() => database.close())
  for (const namespace of ['', 'x'.repeat(201), 7]) {
    t.throws(() => sqliteStore({ database, namespace: namespace as string }), storeOption(/option "namespace" must be a string of 1 to 200 characters/))
  }
  for (const tableName of ['anon-keys', 'main.keys', '1keys', '']) {
    t.throws(() => sqliteStore({ database, tableName }), storeOption(/option "tableName" must be a name of letters, digits and _ \(at most 63\)/))
  }
  for (const catchUpMs of [0, 49, 1.5, 60_001, '1000']) {
    t.throws(() => sqliteStore({ database, catchUpMs: catchUpMs as number }),
      storeOption(/sqliteStore\(\) option "catchUpMs" must be a whole number of milliseconds from 50 to 60000, got .*leave it out for 1000/))
  }
  t.equal(sqliteStore({ database, namespace: 'n'.repeat(200), tableName: 'keys_2', catchUpMs: 50 }).namespace, 'n'.repeat(200), 'the bounds themselves are accepted')
})

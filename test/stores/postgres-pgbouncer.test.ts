import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import anonKey, { postgresStore } from '../../lib/index.js'
import { fingerprintOf } from '../../lib/stores/index.js'
import { adminHeaders, currentKey, JWT_SECRET, listPrevious, revoke, rotate, useKey } from '../helpers/app.js'
import { onPgBouncer, type LocalPgBouncer } from '../helpers/pgbouncer.js'
import { createPool, dropTableAtEnd, startPgInstances } from '../helpers/postgres.js'
import { uniqueNamespace } from '../helpers/services.js'
import { eventually } from '../helpers/eventually.js'
import { PROBE_MS } from '../../lib/stores/postgres/probe.js'

// Each instance's start-up and every reload go through the pooler.
t.setTimeout(180_000)

const CACHE_TTL_MS = 5000

/**
 * An instance on a pool through PgBouncer, with its log lines kept; with `listenDirectly`, its store listens on a
 * direct connection (the `listenPool` option) while its queries go through the pooler.
 */
async function startPooled (
  t: Test,
  bouncer: LocalPgBouncer,
  settings: { namespace: string, tableName: string },
  listenDirectly = false
): Promise<{ app: FastifyInstance, logs: any[] }> {
  const pool = createPool(t, { port: bouncer.port })
  const listenPool = listenDirectly ? createPool(t) : undefined
  const logs: any[] = []
  const app = Fastify({ logger: { level: 'info', stream: { write: (line: string) => { logs.push(JSON.parse(line)) } } } })
  app.register(anonKey, { jwt: { secret: JWT_SECRET }, store: postgresStore({ pool, listenPool, ...settings }), cacheTtlMs: CACHE_TTL_MS })
  app.get('/data', { onRequest: (request, reply, done) => app.verifyAnonKey(request, reply, done) }, async () => ({ ok: true }))
  t.teardown(() => app.close())
  await app.ready()
  return { app, logs }
}

onPgBouncer(t, 'through PgBouncer in transaction mode (pool_mode = transaction)', async (t, bouncer) => {
  const direct = createPool(t)
  const tableName = uniqueNamespace('anon_pooled')
  dropTableAtEnd(t, direct, tableName)
  const settings = (): { namespace: string, tableName: string, port: number } => ({ namespace: uniqueNamespace('pooled'), tableName, port: bouncer.port })

  t.test('start-up, read, rotation, listing and revocation work through the pooler', async (t) => {
    const [{ app }] = await startPgInstances(t, 1, settings())
    const first = await currentKey(app)
    t.match(first, /^anon_[0-9a-f]{64}$/, 'start-up created a key through the pooler')
    const rotated = await rotate(app, { gracePeriodHours: 1 })
    t.equal(rotated.statusCode, 200, `rotate answered ${rotated.body}`)
    t.same((await listPrevious(app)).map((record) => record.fingerprint), [fingerprintOf(first)], 'the old key is listed as a previous key')
    t.equal((await useKey(app, first)).statusCode, 200, 'the old key verifies within its grace')
    const revoked = await revoke(app, fingerprintOf(first))
    t.same(revoked.json(), { success: true, revoked: 1 }, 'revocation works through the pooler')
    t.equal((await useKey(app, first)).statusCode, 401, 'the revoked key is refused')
    const read = await app.inject({ url: '/api/metadata/anon-key', headers: adminHeaders() })
    t.equal(read.json().anonKey, rotated.json().anonKey)
  })

  t.test('5 instances starting at once through the pooler end with one and the same key', async (t) => {
    const instances = await startPgInstances(t, 5, settings())
    const keys = await Promise.all(instances.map((instance) => currentKey(instance.app)))
    t.equal(new Set(keys).size, 1, `every instance serves the same key, got ${keys.map(fingerprintOf).join(', ')}`)
  })

  t.test('20 concurrent rotations spread over two instances through the pooler all succeed and lose nothing', async (t) => {
    const instances = await startPgInstances(t, 2, settings())
    const first = await currentKey(instances[0].app)
    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => rotate(instances[i % 2].app, { gracePeriodHours: 1 })))
    t.same(responses.map((response) => response.statusCode), Array(20).fill(200), 'no rotation failed')
    const issued = responses.map((response) => response.json().anonKey as string)
    t.equal(new Set(issued).size, 20, 'every rotation made its own key')
    const final = await currentKey(instances[1].app)
    t.ok(issued.includes(final), 'the current key is one of the issued keys')
    const expected = [first, ...issued.filter((key) => key !== final)].map(fingerprintOf).sort()
    t.same((await listPrevious(instances[0].app)).map((record) => record.fingerprint).sort(), expected,
      'the first key and every issued key but the current one are previous keys')
  })

  t.test('LISTEN behind the pooler hears nothing: each instance logs one error naming the cause and the option, and the poll brings every change within 2 s', async (t) => {
    const ns = uniqueNamespace('pooled_listen')
    // A direct connection hears every NOTIFY that the pooled transactions send: the notifications are sent.
    const listener = await direct.connect()
    const heardDirectly: string[] = []
    // The payload is [namespace, project] as JSON.
    listener.on('notification', (message) => { if (message.payload?.startsWith(JSON.stringify([ns]).slice(0, -1))) heardDirectly.push(message.payload) })
    await listener.query('LISTEN anon_key_changes')
    t.teardown(() => listener.release(true))
    // A store listening through the pooler, as every instance's store does: what does LISTEN hear? (Its poll waits a minute.)
    const pooledStore = postgresStore({ pool: createPool(t, { port: bouncer.port }), namespace: ns, tableName, catchUpMs: 60_000 })
    let heardThroughPooler = 0
    await pooledStore.subscribe(() => { heardThroughPooler += 1 })
    t.teardown(() => pooledStore.close())
    const packetsBefore = (bouncer.log().match(/got packet 'A' from server when not linked/g) ?? []).length

    const one = await startPooled(t, bouncer, { namespace: ns, tableName })
    const other = await startPooled(t, bouncer, { namespace: ns, tableName })
    const delays: number[] = []
    for (let round = 0; round < 3; round++) {
      const old = await currentKey(one.app)
      await eventually('the other instance to accept the current key', async () => (await useKey(other.app, old)).statusCode === 200, CACHE_TTL_MS + 5000)
      const sent = performance.now()
      t.equal((await rotate(one.app, { gracePeriodHours: 0 })).statusCode, 200, 'rotation works through the pooler')
      delays.push(await eventually('the other instance to refuse the old key', async () => (await useKey(other.app, old)).statusCode === 401, CACHE_TTL_MS + 5000, { started: sent, pollMs: 2 }))
    }
    const packets = (bouncer.log().match(/got packet 'A' from server when not linked/g) ?? []).length - packetsBefore
    t.ok(heardDirectly.length >= 3, `a direct LISTEN connection heard the rotations' notifications (${heardDirectly.length})`)
    t.comment(`behind PgBouncer (transaction mode): the other instance refused the old key after ${delays.map((ms) => `${ms.toFixed(0)} ms`).join(', ')} ` +
      `(cacheTtlMs ${CACHE_TTL_MS}); a direct LISTEN heard ${heardDirectly.length} notifications, a store listening through the pooler ${heardThroughPooler}; PgBouncer logged "got packet 'A' from server when not linked" ${packets} times`)
    t.equal(heardThroughPooler, 0, 'the store listening through the pooler heard nothing')
    t.ok(delays.every((ms) => ms < 2000), `a change reaches the other instance within 2 s behind a transaction-mode pooler (${delays.map((ms) => ms.toFixed(0)).join(', ')} ms)`)
    await eventually('the start-up check to give up on its own notification', () => [...one.logs, ...other.logs].filter((line) => line.level >= 50).length >= 2, 5000)
    const errors = [...one.logs, ...other.logs].filter((line) => line.level >= 50)
    t.equal(errors.length, 2, 'each instance logs one error, once')
    for (const error of errors) t.match(error.msg, /did not hear its own notification.*transaction pooler.*postgresStore\(\{ pool, listenPool \}\)/, 'it names the cause and the option')
  })

  t.test('with listenPool on a direct connection, notifications arrive behind the pooler and nothing is logged', async (t) => {
    const ns = uniqueNamespace('pooled_listen_pool')
    const one = await startPooled(t, bouncer, { namespace: ns, tableName }, true)
    const other = await startPooled(t, bouncer, { namespace: ns, tableName }, true)
    const delays: number[] = []
    for (let round = 0; round < 3; round++) {
      const old = await currentKey(one.app)
      await eventually('the other instance to accept the current key', async () => (await useKey(other.app, old)).statusCode === 200, 2000)
      const sent = performance.now()
      t.equal((await rotate(one.app, { gracePeriodHours: 0 })).statusCode, 200, 'rotation works through the pooler')
      delays.push(await eventually('the other instance to refuse the old key', async () => (await useKey(other.app, old)).statusCode === 401, 2000, { started: sent, pollMs: 2 }))
    }
    t.comment(`behind PgBouncer with listenPool on a direct connection: the other instance refused the old key after ${delays.map((ms) => `${ms.toFixed(0)} ms`).join(', ')}`)
    await new Promise((resolve) => setTimeout(resolve, PROBE_MS + 500))
    t.same([...one.logs, ...other.logs].filter((line) => line.level >= 40), [], 'no warning or error: the start-up check heard its own notification')
  })
})

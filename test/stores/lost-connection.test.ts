import Fastify from 'fastify'
import t, { type Test } from 'tap'
import anonKey, { postgresStore, redisStore, type AnonKeyStore } from '../../lib/index.js'
import { generateAnonKey } from '../../lib/domain/key.js'
import { keyHandle } from '../../lib/conformance/index.js'
import type { ChangeListener, SubscribeOptions } from '../../lib/stores/interface.js'
import { JWT_SECRET } from '../helpers/app.js'
import { countingStore } from '../helpers/counting-store.js'
import { eventually, sleep } from '../helpers/eventually.js'
import { createPool, dropTableAtEnd, onPostgres } from '../helpers/postgres.js'
import { onRedis, redisClient, redisNamespaces } from '../helpers/redis.js'
import { uniqueNamespace } from '../helpers/services.js'
import { isTenantAdmin, tenantFromHeader, useTenantKey } from '../helpers/tenants.js'

const TENANTS = 300
const MAX_TENANT_LOADS = 20
/** The app's store polls every 200 ms: a change whose notification was lost is seen well within this. */
const CATCH_UP_MS = 200
const POLL_BOUND_MS = 2000

interface Backend {
  /** The app's store. */
  store: AnonKeyStore
  /** Another instance's store on the same data. */
  writer: AnonKeyStore
  /** Cuts the app store's listening connection; the store opens a new one by itself. */
  cut: () => Promise<void>
}

/** The store, with its loads counted by project and the `listener(null)` calls it made counted. */
function watched (inner: AnonKeyStore): { store: AnonKeyStore, loaded: Map<string, number>, nulls: () => number } {
  const loaded = new Map<string, number>()
  let nulls = 0
  const store = new Proxy(inner, {
    get (target, property, receiver) {
      if (property === 'load') {
        return (project: string) => {
          loaded.set(project, (loaded.get(project) ?? 0) + 1)
          return target.load(project)
        }
      }
      if (property === 'subscribe') {
        return (listener: ChangeListener, options?: SubscribeOptions) => target.subscribe((project, change) => {
          if (project === null) nulls += 1
          listener(project, change)
        }, options)
      }
      return Reflect.get(target, property, receiver)
    }
  })
  return { store, loaded, nulls: () => nulls }
}

/**
 * 300 tenants held by an instance with maxTenantLoads 20; its listening connection is cut, and a tenant changed
 * elsewhere meanwhile. The instance reloads nothing at once; the change reaches it through the poll; every tenant,
 * used again and again, is reloaded once, never more than 20 at a time; nothing is logged per tenant.
 */
async function lostConnection (t: Test, backend: Backend): Promise<void> {
  const tenants = Array.from({ length: TENANTS }, (_, index) => `tenant-${index}`)
  const keys = new Map<string, string>()
  for (let index = 0; index < TENANTS; index += MAX_TENANT_LOADS) {
    await Promise.all(tenants.slice(index, index + MAX_TENANT_LOADS).map(async (tenant) => {
      keys.set(tenant, (await keyHandle(backend.writer, tenant).initialize(generateAnonKey())).currentKey as string)
    }))
  }
  const watch = watched(backend.store)
  const counted = countingStore(watch.store)
  const lines: Array<Record<string, unknown>> = []
  // Every line but the requests' own (incoming, completed).
  const keep = (line: string): void => {
    const parsed = JSON.parse(line)
    if (!('reqId' in parsed)) lines.push(parsed)
  }
  const app = Fastify({ logger: { level: 'info', stream: { write: keep } } })
  app.register(anonKey, {
    jwt: { secret: JWT_SECRET }, store: counted.store, tenant: tenantFromHeader, isAdmin: isTenantAdmin, maxTenantLoads: MAX_TENANT_LOADS
  })
  app.register(async (guarded) => {
    guarded.addHook('onRequest', guarded.verifyAnonKey)
    guarded.get('/data', async () => ({ ok: true }))
  })
  t.teardown(() => app.close())
  await app.ready()
  const use = async (batch: string[]): Promise<number[]> =>
    (await Promise.all(batch.map((tenant) => useTenantKey(app, tenant, keys.get(tenant) as string)))).map((response) => response.statusCode)
  const first = new Set<number>()
  for (let index = 0; index < TENANTS; index += MAX_TENANT_LOADS) {
    for (const status of await use(tenants.slice(index, index + MAX_TENANT_LOADS))) first.add(status)
  }
  t.same(first, new Set([200]), 'a tenant\'s first use loads and verifies it')
  t.equal(counted.count('load'), TENANTS, `${TENANTS} tenants held`)
  counted.reset()
  watch.loaded.clear()
  const logged = lines.length

  await backend.cut()
  const changed = tenants[7]
  const old = keys.get(changed) as string
  const written = performance.now()
  const rotated = await keyHandle(backend.writer, changed).rotate({ newKey: generateAnonKey(), now: Date.now(), expiresAt: Date.now() })
  keys.set(changed, rotated?.snapshot.currentKey as string)
  await eventually('the store to report that changes may have been missed', () => watch.nulls() > 0, 10_000)
  await sleep(CATCH_UP_MS * 2)
  const atOnce = counted.count('load')
  t.ok(counted.count('load') <= 1, `nothing reloaded at once when the connection came back (${counted.count('load')} loads: the changed tenant's, from the poll, at most)`)

  const took = await eventually('the change made while the connection was down to be seen', async () => (await useTenantKey(app, changed, old)).statusCode === 401, POLL_BOUND_MS, { started: written })

  const statuses = new Set<number>()
  let rounds = 0
  await eventually('every held tenant to be reloaded on its use', async () => {
    rounds += 1
    for (const status of await use(tenants)) statuses.add(status)
    return tenants.every((tenant) => watch.loaded.has(tenant))
  }, 30_000)
  t.same(statuses, new Set([200]), 'every request verified with the keys held, stale or reloaded')
  t.ok(counted.peak('load') <= MAX_TENANT_LOADS, `loads in flight at most ${MAX_TENANT_LOADS} (${counted.peak('load')} at the most)`)
  const others = tenants.filter((tenant) => tenant !== changed)
  t.same(others.filter((tenant) => watch.loaded.get(tenant) !== 1), [], `every other held tenant reloaded once, over ${rounds} rounds of use`)

  const after = lines.slice(logged)
  t.comment(`${TENANTS} tenants held, maxTenantLoads ${MAX_TENANT_LOADS}: ${atOnce} load when the connection came back, the change seen after ${took.toFixed(0)} ms, ` +
    `then ${counted.count('load')} loads over ${rounds} rounds of use, ${counted.peak('load')} in flight at the most, ${after.length} lines logged: ${JSON.stringify(after.map((line) => line.msg))}`)
  t.same(after.filter((line) => (line.level as number) >= 40 || 'project' in line), [], 'no warning, no error, no line per tenant')
  t.ok(after.length <= 2, `at most a line or two for the whole cut (${after.length}: ${after.map((line) => line.msg).join(' | ')})`)
}

onPostgres(t, (t) => {
  t.test('PostgreSQL, its LISTEN backend terminated: no mass reload, loads within maxTenantLoads, the missed change seen, nothing logged per tenant', async (t) => {
    const direct = createPool(t)
    const tableName = uniqueNamespace('anon_lost')
    dropTableAtEnd(t, direct, tableName)
    const namespace = uniqueNamespace('lost')
    const channel = uniqueNamespace('anon_lost_listen')
    const store = postgresStore({ pool: createPool(t), namespace, tableName, channel, catchUpMs: CATCH_UP_MS })
    // The writer announces on another channel: the app hears of its change only through the poll.
    const writer = postgresStore({ pool: direct, namespace, tableName, channel: uniqueNamespace('anon_lost_write') })
    t.teardown(async () => { await writer.close(); await store.close() })
    await lostConnection(t, {
      store,
      writer,
      cut: async () => {
        const killed = await direct.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1', [`LISTEN "${channel}"`])
        t.equal(killed.rowCount, 1, 'the listening connection was terminated')
      }
    })
  })
})

onRedis(t, (t) => {
  const admin = redisClient(t)
  const { namespace } = redisNamespaces(t, admin)

  t.test('Redis, its subscriber killed (CLIENT KILL): no mass reload, loads within maxTenantLoads, the missed change seen, nothing logged per tenant', async (t) => {
    const ns = namespace('lost')
    const name = `lost_${ns}`
    // The subscriber (a duplicate of this client, same options) comes back 300 ms after it is killed.
    const store = redisStore({ client: redisClient(t, { connectionName: name, retryStrategy: () => 300 }), namespace: ns, catchUpMs: CATCH_UP_MS })
    const writer = redisStore({ client: admin, namespace: ns })
    t.teardown(async () => { await store.close() })
    await lostConnection(t, {
      store,
      writer,
      cut: async () => {
        const clients = String(await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub')).split('\n').filter((line) => line.includes(`name=${name} `))
        t.equal(clients.length, 1, 'one listening connection')
        await admin.call('CLIENT', 'KILL', 'ID', (/id=(\d+)/.exec(clients[0]) as RegExpExecArray)[1])
      }
    })
  })
})

import Fastify, { type FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { Pool } from 'pg'
import anonKey, { postgresStore, redisStore, type AnonKeyStore, type PostgresStoreOptions } from '../lib/index.js'
import type { MeterProviderLike } from '../lib/metrics/otel-types.js'
import { BENCH_TIMER_MS, JWT_SECRET } from './apps.js'
import { serve } from './child.js'

/**
 * Child process of the fleet part (fleet.ts): some of the fleet's instances, each its own Fastify app with the
 * plugin in tenant mode on its own store, pg Pool or ioredis client, as separate servers would be. It counts, per
 * instance, what the parent asks about: store.load calls (and how many are in flight at once), the queries or
 * commands its own client sends, the plugin's log lines by level, and the propagation delays the plugin records
 * (its `anon_key.propagation.delay` histogram, read through a meter provider of this file's own).
 */

export type FleetStoreKind = 'postgres' | 'redis'

export interface StartCommand {
  kind: FleetStoreKind
  url: string
  namespace: string
  /** A prefix of the application_name / client name, so that the parent can find this fleet's connections. */
  label: string
  /** PostgreSQL: false for postgresStore({ listen: false }). */
  listen: boolean
  poolMax: number
  /** One entry per instance: its index in the fleet and the tenants it caches. */
  instances: Array<{ index: number, tenants: string[] }>
  /** How many loads each instance runs at once while warming its cache. */
  warmConcurrency: number
}

export interface Counters {
  loads: number
  /** Loads of each tenant on each instance, the highest. */
  maxLoadsOfOneTenant: number
  loadErrors: number
  /** The most loads in flight at once on one instance, and in this whole process. */
  maxInFlightInstance: number
  maxInFlightProcess: number
  inFlight: number
  /** Queries (PostgreSQL) or commands (Redis) this process's clients sent, by kind. */
  queries: Record<string, number>
  /** The plugin's log lines, by pino level name. */
  logLines: Record<string, number>
  /** Its warnings and errors, by message. */
  logMessages: Record<string, number>
  /** Loads per instance index (only instances that loaded). */
  loadsByInstance: Record<number, number>
}

interface Instance {
  index: number
  app: FastifyInstance
  store: AnonKeyStore
  tenants: string[]
  inFlight: number
  maxInFlight: number
  loadsOf: Map<string, number>
  loads: number
  propagation: number[]
  close: () => Promise<void>
}

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' }

const instances: Instance[] = []
let processInFlight = 0
let processMaxInFlight = 0
let loadErrors = 0
let warmRetries = 0
let startRetries = 0
let queries: Record<string, number> = {}
let logLines: Record<string, number> = {}
let logMessages: Record<string, number> = {}

function countQuery (kind: string): void {
  queries[kind] = (queries[kind] ?? 0) + 1
}

/** What a PostgreSQL statement is, for the counts: the catch-up poll, a project's load, or anything else. */
function statementKind (text: unknown): string {
  const sql = String(text)
  if (sql.includes('txid_current_snapshot')) return 'poll'
  if (sql.includes('SELECT version, state FROM') && !sql.includes('FOR UPDATE')) return 'load'
  if (sql.includes('pg_notify')) return 'notify'
  return 'other'
}

/** A meter provider that keeps the propagation delays the plugin records, and ignores every other instrument. */
function meterProvider (delays: number[]): MeterProviderLike {
  const ignored = { add () {}, record () {}, addCallback () {} }
  return {
    getMeter: () => ({
      createCounter: () => ignored,
      createObservableCounter: () => ignored,
      createObservableUpDownCounter: () => ignored,
      createHistogram: (name: string) => name === 'anon_key.propagation.delay' ? { record: (seconds: number) => { delays.push(seconds * 1000) } } : ignored
    })
  }
}

/** The store wrapped so that every load is counted, by tenant, with how many are in flight. */
function countedLoads (store: AnonKeyStore, instance: () => Instance): AnonKeyStore {
  return new Proxy(store, {
    get (target, property, receiver) {
      const value = Reflect.get(target, property, receiver)
      if (property !== 'load') return typeof value === 'function' ? value.bind(target) : value
      return async (project: string) => {
        const self = instance()
        self.loads += 1
        self.loadsOf.set(project, (self.loadsOf.get(project) ?? 0) + 1)
        self.inFlight += 1
        processInFlight += 1
        self.maxInFlight = Math.max(self.maxInFlight, self.inFlight)
        processMaxInFlight = Math.max(processMaxInFlight, processInFlight)
        try {
          return await target.load(project)
        } catch (error) {
          loadErrors += 1
          throw error
        } finally {
          self.inFlight -= 1
          processInFlight -= 1
        }
      }
    }
  })
}

async function backendStore (command: StartCommand, index: number): Promise<{ store: AnonKeyStore, close: () => Promise<void> }> {
  const name = `${command.label}_${index}`
  if (command.kind === 'postgres') {
    const pool = new Pool({ connectionString: command.url, max: command.poolMax, application_name: name })
    pool.on('error', () => {})
    const query = pool.query.bind(pool) as (...args: unknown[]) => unknown
    ;(pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      countQuery(statementKind(typeof args[0] === 'object' && args[0] !== null ? (args[0] as { text: string }).text : args[0]))
      return query(...args)
    }
    const options = { pool, namespace: command.namespace, ...(command.listen ? {} : { listen: false }) } as PostgresStoreOptions
    return { store: postgresStore(options), close: () => pool.end() }
  }
  const client = new Redis(command.url, { connectionName: name, maxRetriesPerRequest: 1 })
  client.on('error', () => {})
  const send = client.sendCommand.bind(client)
  client.sendCommand = ((commandToSend: { name: string }, stream?: unknown) => {
    countQuery(commandToSend.name)
    return send(commandToSend as never, stream as never)
  }) as typeof client.sendCommand
  return { store: redisStore({ client, namespace: command.namespace }), close: async () => { client.disconnect() } }
}

async function startOne (command: StartCommand, index: number, tenants: string[]): Promise<Instance> {
  const { store: inner, close } = await backendStore(command, index)
  const propagation: number[] = []
  const self: Instance = {
    index, app: null as unknown as FastifyInstance, store: inner, tenants, inFlight: 0, maxInFlight: 0, loadsOf: new Map(), loads: 0, propagation, close
  }
  const store = countedLoads(inner, () => self)
  const app = Fastify({
    logger: {
      level: 'info',
      stream: {
        write (line: string) {
          const entry = JSON.parse(line) as { level: number, msg?: string }
          const level = LEVELS[entry.level] ?? 'other'
          logLines[level] = (logLines[level] ?? 0) + 1
          if (entry.level >= 40) logMessages[`${level}: ${entry.msg}`] = (logMessages[`${level}: ${entry.msg}`] ?? 0) + 1
        }
      }
    }
  })
  // cacheTtlMs is the plugin's default; the usage report is set an hour away, so that no write but the
  // rotations reaches the store (verification is never called here: the caches are warmed with get()).
  app.register(anonKey, {
    jwt: { secret: JWT_SECRET },
    store,
    usageFlushMs: BENCH_TIMER_MS,
    tenant: (request) => request.headers['x-tenant'] as string | undefined,
    authorize: () => true,
    metrics: { meterProvider: meterProvider(propagation) }
  })
  self.app = app
  self.store = store
  try {
    await app.ready()
  } catch (error) {
    await app.close().catch(() => {})
    await store.close()
    await close()
    throw error
  }
  return self
}

/** Starts an instance; on a busy machine its start-up may pass storeTimeoutMs: tried again, twice. */
async function started (command: StartCommand, index: number, tenants: string[]): Promise<Instance> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await startOne(command, index, tenants)
    } catch (error) {
      if (attempt === 2) throw error
      startRetries += 1
    }
  }
}

async function warm (instance: Instance, concurrency: number): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    for (let i = next++; i < instance.tenants.length; i = next++) {
      // On a busy machine a load may pass storeTimeoutMs: tried again, twice.
      let key: string | null = null
      for (let attempt = 0; ; attempt++) {
        try {
          key = await instance.app.anonKey.forTenant(instance.tenants[i]).get()
          break
        } catch (error) {
          if (attempt === 2) throw error
          warmRetries += 1
        }
      }
      if (key === null) throw new Error(`instance ${instance.index}: tenant ${instance.tenants[i]} has no key`)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
}

function counters (): Counters {
  const loadsByInstance: Record<number, number> = {}
  let maxLoadsOfOneTenant = 0
  for (const instance of instances) {
    if (instance.loads > 0) loadsByInstance[instance.index] = instance.loads
    for (const count of instance.loadsOf.values()) maxLoadsOfOneTenant = Math.max(maxLoadsOfOneTenant, count)
  }
  return {
    loads: instances.reduce((sum, instance) => sum + instance.loads, 0),
    maxLoadsOfOneTenant,
    loadErrors,
    maxInFlightInstance: Math.max(0, ...instances.map((instance) => instance.maxInFlight)),
    maxInFlightProcess: processMaxInFlight,
    inFlight: processInFlight,
    queries: { ...queries },
    logLines: { ...logLines },
    logMessages: { ...logMessages },
    loadsByInstance
  }
}

function reset (): void {
  for (const instance of instances) {
    instance.loads = 0
    instance.loadsOf.clear()
    instance.maxInFlight = instance.inFlight
    instance.propagation.length = 0
  }
  processMaxInFlight = processInFlight
  loadErrors = 0
  queries = {}
  logLines = {}
  logMessages = {}
}

function byIndex (index: number): Instance {
  const found = instances.find((instance) => instance.index === index)
  if (found === undefined) throw new Error(`no instance ${index} in this process`)
  return found
}

serve({
  async start (command: StartCommand) {
    // A few at a time: each start-up opens connections and subscribes.
    for (let i = 0; i < command.instances.length; i += 5) {
      instances.push(...await Promise.all(command.instances.slice(i, i + 5).map(({ index, tenants }) => started(command, index, tenants))))
    }
    return startRetries
  },
  async warm ({ concurrency }: { concurrency: number }) {
    await Promise.all(instances.map((instance) => warm(instance, concurrency)))
    return { loads: instances.reduce((sum, instance) => sum + instance.tenants.length, 0), retries: warmRetries }
  },
  counters,
  reset,
  /** The propagation delays recorded since the last reset, by instance index. */
  propagation () {
    return Object.fromEntries(instances.map((instance) => [instance.index, [...instance.propagation]]))
  },
  /** The current key of `tenant`, read from the store by instance `index` (one load). */
  async key ({ index, tenant }: { index: number, tenant: string }) {
    return await byIndex(index).app.anonKey.forTenant(tenant).get()
  },
  /** A 0 h rotation of `tenant` through instance `index`. */
  async rotate ({ index, tenant }: { index: number, tenant: string }) {
    await byIndex(index).app.anonKey.forTenant(tenant).rotate({ gracePeriodHours: 0 })
    return null
  },
  /**
   * Every instance uses each tenant it caches once, as a request would: verify() of a malformed key, which the
   * tenant's keys refuse without a store call or a usage count, and which reloads a tenant the plugin holds as stale.
   */
  touch () {
    for (const instance of instances) {
      for (const tenant of instance.tenants) instance.app.anonKey.forTenant(tenant).verify('not-a-key').catch(() => {})
    }
    return null
  },
  /** How many of this process's instances still accept `key` for `tenant` (each checks its cache). */
  async accepting ({ tenant, key }: { tenant: string, key: string }) {
    const verdicts = await Promise.all(instances.map((instance) => instance.app.anonKey.forTenant(tenant).verify(key)))
    return verdicts.filter((verdict) => verdict.valid).length
  }
}, async () => {
  for (const instance of instances) {
    await instance.app.close()
    await instance.store.close()
    await instance.close()
  }
})

import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { Pool } from 'pg'
import { initializeProject } from '../lib/domain/transitions.js'
import { postgresStore, redisStore, type AnonKeyStore, type PostgresStoreOptions } from '../lib/index.js'
import { generateAnonKey } from '../lib/stores/index.js'
import { Child, serve } from './child.js'
import type { Counters, FleetStoreKind, StartCommand } from './fleet-instances.js'
import { percentile } from './stats.js'
import { DATABASE_URL, REDIS_URL, uniqueNamespace } from './stores.js'

/**
 * Child process: a fleet. Many instances of the plugin, each its own Fastify app in tenant mode
 * with its own pg Pool or ioredis client, spread over a few child processes (fleet-instances.ts), all on one
 * store holding `tenants` tenants; each instance caches `cached` of them (the `common` ones, which the rotations
 * use, on every instance). For PostgreSQL with LISTEN, PostgreSQL without (`listen: false`, where the store has
 * the option) and Redis, it measures:
 * - at rest (every instance idle, its tenants cached): the store's queries per second, counted by the server
 *   (pg_stat_statements, or Redis INFO commandstats) and by each instance's client, and the loads;
 * - connections the fleet holds (pg_stat_activity / CLIENT LIST, by the fleet's application or client names);
 * - rotations through one instance of tenants every instance holds: loads per change on each other instance and
 *   on the writer, and the propagation delay each instance's plugin records (its anon_key.propagation.delay);
 * - every listening connection cut at once (pg_terminate_backend of each LISTEN backend, CLIENT KILL of each
 *   subscriber): the loads that follow, the most in flight at once, failed loads and the plugin's log lines.
 * The full run starts a PostgreSQL cluster and a Redis server of its own on loopback (PostgreSQL's usual
 * max_connections of 100 does not hold 200 instances), stopped at the end; --short uses DATABASE_URL and
 * REDIS_URL with 8 instances, and judges nothing.
 */

export interface FleetRow {
  store: string
  instances: number
  processes: number
  tenants: number
  cachedPerInstance: number
  /** null: this tree's store cannot run this configuration (why in `note`). */
  measured: boolean
  note: string
  startSeconds: number
  warmSeconds: number
  warmLoads: number
  /** Warming loads that timed out (storeTimeoutMs) and were made again. */
  warmRetries: number
  /** Instance start-ups that timed out (storeTimeoutMs) and were made again. */
  startRetries: number
  connectionsPeak: number
  connectionsAtRest: number
  rest: {
    seconds: number
    /** Statements (PostgreSQL) or commands (Redis) the server counted, per second; null where it cannot tell them apart. */
    serverQueriesPerSecond: number | null
    /** The server's own time in one poll at rest (pg_stat_statements total_exec_time, or EVALSHA's usec), in µs. */
    serverMicrosecondsPerPoll: number | null
    serverNote: string
    /** The same, counted by the instances' own clients, by kind. */
    clientPerSecond: Record<string, number>
    loads: number
    logLines: Record<string, number>
  }
  changes: {
    rotations: number
    loadErrors: number
    /** The plugin's warnings and errors meanwhile, by message. */
    logMessages: Record<string, number>
    /** Loads on the instances that did not write, per change and instance. */
    loadsPerChangePerInstance: number
    /** The most loads of one rotated tenant on one instance. */
    maxLoadsOfOneTenant: number
    writerLoads: number
    propagations: number
    expectedPropagations: number
    propagationP50Ms: number
    propagationP99Ms: number
    propagationMaxMs: number
  }
  cut: null | {
    /** Listening connections cut, and found again afterwards. */
    killed: number
    listeningAgain: number
    seconds: number
    loads: number
    maxInFlightInstance: number
    /** The sum over the processes of each one's most loads in flight at once. */
    maxInFlightProcesses: number
    loadErrors: number
    logLines: Record<string, number>
    logMessages: Record<string, number>
    /** Then every instance uses each tenant it caches, in rounds, until a round makes no load. */
    used: {
      rounds: number
      seconds: number
      loads: number
      maxLoadsOfOneTenant: number
      maxInFlightInstance: number
      loadErrors: number
      logLines: Record<string, number>
      logMessages: Record<string, number>
    }
  }
  /** (Instance, rotated tenant) pairs where the instance still accepted the tenant's old key at the end (must be 0). */
  stillAccepting: number
  loadBefore: string
  loadAfter: string
}

export interface FleetResult {
  services: string
  rows: FleetRow[]
}

interface Settings {
  instances: number
  processes: number
  tenants: number
  cached: number
  common: number
  rotations: number
  restSeconds: number
  cutSeconds: number
  /** Idle time before the at-rest window, between two rotations, and after the last propagation (for late loads). */
  settleMs: number
  rotationGapMs: number
  lateLoadsMs: number
  poolMax: number
  warmConcurrency: number
}

const CATCH_UP_MS = 1000
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const load = (): string => loadavg().map((value) => value.toFixed(2)).join(' ')

/** Runs what was started for the part when it ends, last first. */
const cleanups: Array<() => unknown> = []

function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
    server.on('error', reject)
  })
}

function postgresBin (): string | null {
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return null
  const versions = readdirSync(root).filter((name) => existsSync(join(root, name, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a))
  return versions.length === 0 ? null : join(root, versions[0], 'bin')
}

function which (program: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** A PostgreSQL cluster of the part's own, on a free loopback port, run as the postgres user when this is root. */
async function privatePostgres (bin: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-pg-'))
  const asPostgres = process.getuid?.() === 0
  if (asPostgres) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }))
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }))
    chownSync(dir, uid, gid)
  }
  const run = (program: string, args: string[]): void => {
    const [command, commandArgs] = asPostgres ? ['runuser', ['-u', 'postgres', '--', join(bin, program), ...args]] : [join(bin, program), args]
    execFileSync(command, commandArgs, { stdio: ['ignore', 'ignore', 'inherit'] })
  }
  const data = join(dir, 'data')
  const port = await freePort()
  run('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync'])
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  // fsync and synchronous commit off: the run measures queries and connections, not the disk.
  const settings = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c max_connections=1000 ` +
    '-c shared_preload_libraries=pg_stat_statements -c fsync=off -c synchronous_commit=off -c shared_buffers=128MB'
  run('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-w', '-o', settings, 'start'])
  cleanups.push(() => run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']))
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`
  const admin = new Pool({ connectionString: url, max: 1 })
  await admin.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements')
  await admin.end()
  return url
}

/** A Redis server of the part's own, on a free loopback port, without persistence. */
async function privateRedis (): Promise<string> {
  const port = await freePort()
  const server: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxclients', '10000'], { stdio: 'ignore' })
  cleanups.push(() => new Promise<void>((resolve) => {
    if (server.exitCode !== null) return resolve()
    server.once('exit', () => resolve())
    server.kill('SIGTERM')
  }))
  const url = `redis://127.0.0.1:${port}`
  for (let attempt = 0; ; attempt++) {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    client.on('error', () => {})
    try {
      await client.connect()
      await client.ping()
      client.disconnect()
      return url
    } catch (error) {
      client.disconnect()
      if (attempt > 50) throw error
      await sleep(100)
    }
  }
}

/** What the server has counted so far: statements or commands, and the polls among them with the server's time in them. */
interface ServerCounts {
  calls: number
  polls: number
  pollMicroseconds: number
}

/** What the server counts, to take deltas of: PostgreSQL statements, Redis commands. */
interface Monitor {
  queries: () => Promise<ServerCounts | null>
  note: string
  /** The fleet's connections (by its application or client names). */
  connections: (label: string) => Promise<number>
  /** Cuts every listening connection of the fleet; how many. */
  cutListening: (label: string) => Promise<number>
  listening: (label: string) => Promise<number>
  close: () => Promise<void>
}

async function postgresMonitor (url: string, privateServer: boolean): Promise<Monitor> {
  const pool = new Pool({ connectionString: url, max: 1, application_name: 'fleet_monitor' })
  pool.on('error', () => {})
  const statements = privateServer && (await pool.query("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'")).rows.length > 0
  const listeners = "FROM pg_stat_activity WHERE application_name LIKE $1 || '%' AND query LIKE 'LISTEN%' AND state = 'idle'"
  return {
    note: statements
      ? 'statements counted by pg_stat_statements (the monitor\'s own left out)'
      : 'not counted by the server: DATABASE_URL\'s server is shared with other work',
    queries: async () => {
      if (!statements) return null
      const { rows: [row] } = await pool.query(`SELECT coalesce(sum(calls), 0)::float8 AS calls,
        coalesce(sum(calls) FILTER (WHERE query LIKE '%txid_current_snapshot%'), 0)::float8 AS polls,
        coalesce(sum(total_exec_time) FILTER (WHERE query LIKE '%txid_current_snapshot%'), 0)::float8 * 1000 AS micros
        FROM pg_stat_statements WHERE query NOT ILIKE '%pg_stat%' AND query NOT ILIKE '%pg_terminate%'`)
      return { calls: row.calls, polls: row.polls, pollMicroseconds: row.micros }
    },
    connections: async (label) => Number((await pool.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE $1 || '%'", [label])).rows[0].n),
    cutListening: async (label) => Number((await pool.query(`SELECT count(pg_terminate_backend(pid))::int AS n ${listeners}`, [label])).rows[0].n),
    listening: async (label) => Number((await pool.query(`SELECT count(*)::int AS n ${listeners}`, [label])).rows[0].n),
    close: () => pool.end()
  }
}

async function redisMonitor (url: string, privateServer: boolean): Promise<Monitor> {
  const client = new Redis(url, { connectionName: 'fleet_monitor' })
  client.on('error', () => {})
  const clients = async (label: string, type?: string): Promise<string[]> =>
    String(await (type === undefined ? client.call('CLIENT', 'LIST') : client.call('CLIENT', 'LIST', 'TYPE', type))).split('\n')
      .filter((line) => line.includes(` name=${label}`)).map((line) => (/id=(\d+)/.exec(line) as RegExpExecArray)[1])
  return {
    note: privateServer ? 'commands counted by INFO commandstats (the monitor\'s own left out)' : 'not counted by the server: REDIS_URL\'s server is shared with other work',
    queries: async () => {
      if (!privateServer) return null
      const stats = await client.info('commandstats')
      const counts: ServerCounts = { calls: 0, polls: 0, pollMicroseconds: 0 }
      for (const [, name, count, micros] of stats.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
        if (name !== 'info' && !name.startsWith('client')) counts.calls += Number(count)
        // At rest the instances send no other script than the poll.
        if (name === 'evalsha') {
          counts.polls = Number(count)
          counts.pollMicroseconds = Number(micros)
        }
      }
      return counts
    },
    connections: async (label) => (await clients(label)).length,
    cutListening: async (label) => {
      const ids = await clients(label, 'pubsub')
      await Promise.all(ids.map((id) => client.call('CLIENT', 'KILL', 'ID', id).catch(() => 0)))
      return ids.length
    },
    listening: async (label) => (await clients(label, 'pubsub')).length,
    close: async () => { client.disconnect() }
  }
}

async function provision (store: AnonKeyStore, tenants: number): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    for (let i = next++; i < tenants; i = next++) {
      await store.update(`t${i}`, (state) => initializeProject(state, { key: generateAnonKey(), now: Date.now() }))
    }
  }
  await Promise.all(Array.from({ length: 16 }, worker))
}

/** The tenants instance `index` caches: the common ones, then its own stretch of the others (together they cover all). */
function tenantsOf (index: number, settings: Settings): string[] {
  const names = Array.from({ length: settings.common }, (_, i) => `t${i}`)
  const others = settings.tenants - settings.common
  const own = Math.min(settings.cached - settings.common, others)
  const stride = Math.floor(others / settings.instances)
  for (let j = 0; j < own; j++) names.push(`t${settings.common + ((index * stride + j) % others)}`)
  return names
}

function sum (values: number[]): number {
  return values.reduce((total, value) => total + value, 0)
}

function mergeCounts (records: Array<Record<string, number>>): Record<string, number> {
  const merged: Record<string, number> = {}
  for (const record of records) for (const [name, count] of Object.entries(record)) merged[name] = (merged[name] ?? 0) + count
  return merged
}

interface Fleet {
  /** Start-ups that timed out (storeTimeoutMs) and were made again. */
  startRetries: number
  children: Child[]
  /** The child holding each instance. */
  owner: (index: number) => Child
  counters: () => Promise<Counters[]>
  reset: () => Promise<void>
  propagation: () => Promise<number[]>
}

async function startFleet (command: Omit<StartCommand, 'instances'>, settings: Settings): Promise<Fleet> {
  const children = Array.from({ length: settings.processes }, (_, i) => new Child('fleet-instances.ts', [], `fleet-${i}`))
  cleanups.push(() => Promise.all(children.map((child) => child.close())))
  const ownerOf = (index: number): number => index % settings.processes
  const retries = await Promise.all(children.map((child, i) => child.request<number>('start', {
    ...command,
    instances: Array.from({ length: settings.instances }, (_, index) => index).filter((index) => ownerOf(index) === i)
      .map((index) => ({ index, tenants: tenantsOf(index, settings) }))
  })))
  return {
    startRetries: sum(retries),
    children,
    owner: (index) => children[ownerOf(index)],
    counters: () => Promise.all(children.map((child) => child.request<Counters>('counters'))),
    reset: async () => { await Promise.all(children.map((child) => child.request('reset'))) },
    propagation: async () => (await Promise.all(children.map((child) => child.request<Record<string, number[]>>('propagation'))))
      .flatMap((byInstance) => Object.values(byInstance).flat())
  }
}

/** Until the loads under way are done: at least `minimumMs`, then no load in flight at two checks in a row. */
async function untilQuiet (fleet: Fleet, minimumMs: number): Promise<void> {
  const started = performance.now()
  let quiet = 0
  while (quiet < 2 && performance.now() - started < 180_000) {
    await sleep(250)
    const inFlight = sum((await fleet.counters()).map((counters) => counters.inFlight))
    quiet = inFlight === 0 && performance.now() - started > minimumMs ? quiet + 1 : 0
  }
}

async function stopFleet (fleet: Fleet): Promise<void> {
  await Promise.all(fleet.children.map((child) => child.close()))
}

async function measureFleet (store: string, command: Omit<StartCommand, 'instances'>, monitor: Monitor, settings: Settings): Promise<FleetRow> {
  const loadBefore = load()
  const label = command.label
  let started = performance.now()
  const fleet = await startFleet(command, settings)
  const startSeconds = (performance.now() - started) / 1000

  started = performance.now()
  const warmed = await Promise.all(fleet.children.map((child) => child.request<{ loads: number, retries: number }>('warm', { concurrency: settings.warmConcurrency })))
  const warmLoads = sum(warmed.map((child) => child.loads))
  const warmRetries = sum(warmed.map((child) => child.retries))
  const warmSeconds = (performance.now() - started) / 1000
  const connectionsPeak = await monitor.connections(label)

  // At rest: idle instances, every tenant cached.
  await sleep(settings.settleMs)
  await fleet.reset()
  const serverBefore = await monitor.queries()
  started = performance.now()
  await sleep(settings.restSeconds * 1000)
  const serverAfter = await monitor.queries()
  const restSeconds = (performance.now() - started) / 1000
  const rest = await fleet.counters()
  const connectionsAtRest = await monitor.connections(label)

  // Rotations of common tenants (each once) through instance 0, the writer. Their old keys are read first (a load each).
  const rotated = Array.from({ length: Math.min(settings.rotations, settings.common) }, (_, r) => `t${r}`)
  const oldKeys: Array<{ tenant: string, key: string }> = []
  for (const tenant of rotated) oldKeys.push({ tenant, key: await fleet.owner(0).request<string>('key', { index: 0, tenant }) })
  await fleet.reset()
  for (const tenant of rotated) {
    await fleet.owner(0).request('rotate', { index: 0, tenant })
    await sleep(settings.rotationGapMs)
  }
  const expectedPropagations = rotated.length * (settings.instances - 1)
  const waitStarted = performance.now()
  while ((await fleet.propagation()).length < expectedPropagations && performance.now() - waitStarted < 2 * CATCH_UP_MS + 8000) await sleep(50)
  // Then one poll period more, for a load that a notification and a poll would both make.
  await sleep(settings.lateLoadsMs)
  const changes = await fleet.counters()
  const delays = await fleet.propagation()
  const writerLoads = sum(changes.map((counters) => counters.loadsByInstance[0] ?? 0))

  let cut: FleetRow['cut'] = null
  if (command.kind === 'redis' || command.listen) {
    await fleet.reset()
    started = performance.now()
    const killed = await monitor.cutListening(label)
    await untilQuiet(fleet, settings.cutSeconds * 1000)
    const seconds = (performance.now() - started) / 1000
    const after = await fleet.counters()
    // Then every cached tenant used, as requests would, until a round of uses makes no load.
    await fleet.reset()
    let uses = 0
    let usedLoads = 0
    const usedStarted = performance.now()
    for (; uses < 10; uses++) {
      await Promise.all(fleet.children.map((child) => child.request('touch')))
      await untilQuiet(fleet, 0)
      const loads = sum((await fleet.counters()).map((counters) => counters.loads))
      if (loads === usedLoads) break
      usedLoads = loads
    }
    const used = await fleet.counters()
    cut = {
      killed,
      listeningAgain: await monitor.listening(label),
      seconds,
      loads: sum(after.map((counters) => counters.loads)),
      maxInFlightInstance: Math.max(...after.map((counters) => counters.maxInFlightInstance)),
      maxInFlightProcesses: sum(after.map((counters) => counters.maxInFlightProcess)),
      loadErrors: sum(after.map((counters) => counters.loadErrors)),
      logLines: mergeCounts(after.map((counters) => counters.logLines)),
      logMessages: mergeCounts(after.map((counters) => counters.logMessages)),
      used: {
        rounds: uses + 1,
        seconds: (performance.now() - usedStarted) / 1000,
        loads: sum(used.map((counters) => counters.loads)),
        maxLoadsOfOneTenant: Math.max(...used.map((counters) => counters.maxLoadsOfOneTenant)),
        maxInFlightInstance: Math.max(...used.map((counters) => counters.maxInFlightInstance)),
        loadErrors: sum(used.map((counters) => counters.loadErrors)),
        logLines: mergeCounts(used.map((counters) => counters.logLines)),
        logMessages: mergeCounts(used.map((counters) => counters.logMessages))
      }
    }
  }

  let stillAccepting = 0
  for (const old of oldKeys) stillAccepting += sum(await Promise.all(fleet.children.map((child) => child.request<number>('accepting', old))))
  await stopFleet(fleet)

  const clientCounts = mergeCounts(rest.map((counters) => counters.queries))
  return {
    store,
    instances: settings.instances,
    processes: settings.processes,
    tenants: settings.tenants,
    cachedPerInstance: settings.cached,
    measured: true,
    note: '',
    startSeconds,
    warmSeconds,
    warmLoads,
    warmRetries,
    startRetries: fleet.startRetries,
    connectionsPeak,
    connectionsAtRest,
    rest: {
      seconds: restSeconds,
      serverQueriesPerSecond: serverBefore === null || serverAfter === null ? null : (serverAfter.calls - serverBefore.calls) / restSeconds,
      serverMicrosecondsPerPoll: serverBefore === null || serverAfter === null
        ? null
        : (serverAfter.pollMicroseconds - serverBefore.pollMicroseconds) / (serverAfter.polls - serverBefore.polls),
      serverNote: monitor.note,
      clientPerSecond: Object.fromEntries(Object.entries(clientCounts).map(([name, count]) => [name, count / restSeconds])),
      loads: sum(rest.map((counters) => counters.loads)),
      logLines: mergeCounts(rest.map((counters) => counters.logLines))
    },
    changes: {
      rotations: rotated.length,
      loadErrors: sum(changes.map((counters) => counters.loadErrors)),
      logMessages: mergeCounts(changes.map((counters) => counters.logMessages)),
      loadsPerChangePerInstance: (sum(changes.map((counters) => counters.loads)) - writerLoads) / expectedPropagations,
      maxLoadsOfOneTenant: Math.max(...changes.map((counters) => counters.maxLoadsOfOneTenant)),
      writerLoads,
      propagations: delays.length,
      expectedPropagations,
      propagationP50Ms: percentile(delays, 50),
      propagationP99Ms: percentile(delays, 99),
      propagationMaxMs: Math.max(...delays)
    },
    cut,
    stillAccepting,
    loadBefore,
    loadAfter: load()
  }
}

function notMeasured (store: string, settings: Settings, note: string): FleetRow {
  const nothing = Number.NaN
  return {
    store,
    instances: settings.instances,
    processes: settings.processes,
    tenants: settings.tenants,
    cachedPerInstance: settings.cached,
    measured: false,
    note,
    startSeconds: nothing,
    warmSeconds: nothing,
    warmLoads: 0,
    warmRetries: 0,
    startRetries: 0,
    connectionsPeak: nothing,
    connectionsAtRest: nothing,
    rest: { seconds: nothing, serverQueriesPerSecond: null, serverMicrosecondsPerPoll: null, serverNote: '', clientPerSecond: {}, loads: nothing, logLines: {} },
    changes: {
      rotations: 0,
      loadErrors: 0,
      logMessages: {},
      loadsPerChangePerInstance: nothing,
      maxLoadsOfOneTenant: nothing,
      writerLoads: nothing,
      propagations: 0,
      expectedPropagations: 0,
      propagationP50Ms: nothing,
      propagationP99Ms: nothing,
      propagationMaxMs: nothing
    },
    cut: null,
    stillAccepting: 0,
    loadBefore: load(),
    loadAfter: load()
  }
}

/** Whether this tree's postgresStore takes `listen: false` (poll-only mode). */
function pollOnlySupported (): boolean {
  try {
    postgresStore({ pool: new Pool({ max: 1 }), listen: false } as PostgresStoreOptions)
    return true
  } catch {
    return false
  }
}

function numberArgument (name: string, fallback: number): number {
  const index = process.argv.indexOf(name)
  return index === -1 ? fallback : Number(process.argv[index + 1])
}

async function run (): Promise<FleetResult> {
  const short = process.argv.includes('--short')
  const settings: Settings = short
    ? {
        instances: 8,
        processes: 2,
        tenants: 100,
        cached: 100,
        common: 10,
        rotations: 2,
        restSeconds: 1.1,
        cutSeconds: 0.5,
        poolMax: 2,
        warmConcurrency: 2,
        settleMs: 200,
        rotationGapMs: 50,
        lateLoadsMs: 0
      }
    : {
        instances: numberArgument('--fleet-instances', 200),
        processes: numberArgument('--fleet-processes', 4),
        tenants: numberArgument('--fleet-tenants', 10_000),
        cached: numberArgument('--fleet-cached', 250),
        common: 50,
        rotations: 20,
        restSeconds: 10,
        cutSeconds: 5,
        poolMax: 3,
        warmConcurrency: 1,
        settleMs: 2000,
        // Apart enough that every instance's reload of one change is done before the next (on 2 shared cores
        // a burst of changes would measure the queue of the fleet's loads, not how long one change takes).
        rotationGapMs: 500,
        lateLoadsMs: CATCH_UP_MS + 500
      }
  let postgresUrl = DATABASE_URL
  let redisUrl = REDIS_URL
  const notes: string[] = []
  const bin = postgresBin()
  const ownServers = !short && bin !== null && which('redis-server')
  if (ownServers) {
    postgresUrl = await privatePostgres(bin)
    redisUrl = await privateRedis()
    notes.push(`a PostgreSQL cluster (${bin}, max_connections 1000, pg_stat_statements, fsync off) and a redis-server of the part's own on loopback`)
  } else if (short) {
    notes.push('DATABASE_URL and REDIS_URL (short mode)')
  } else {
    notes.push(`DATABASE_URL and REDIS_URL: ${bin === null ? 'no PostgreSQL programs under /usr/lib/postgresql' : 'no redis-server'} to start servers of the part's own, ` +
      'so fewer instances may fit in the server\'s max_connections')
  }

  const rows: FleetRow[] = []
  const pgNamespace = uniqueNamespace('fleet_pg')
  const pgWriterPool = new Pool({ connectionString: postgresUrl, max: 16 })
  const pgWriter = postgresStore({ pool: pgWriterPool, namespace: pgNamespace })
  cleanups.push(async () => {
    await pgWriter.close()
    await pgWriterPool.query('DELETE FROM anon_key_projects WHERE namespace = $1', [pgNamespace]).catch(() => {})
    await pgWriterPool.query('DELETE FROM anon_key_projects_retired WHERE namespace = $1', [pgNamespace]).catch(() => {})
    await pgWriterPool.end()
  })
  await provision(pgWriter, settings.tenants)
  const pgMonitor = await postgresMonitor(postgresUrl, ownServers)
  cleanups.push(() => pgMonitor.close())
  const fitted = async (perInstance: number): Promise<Settings> => {
    if (ownServers) return settings
    const { rows: [room] } = await pgWriterPool.query("SELECT current_setting('max_connections')::int - (SELECT count(*) FROM pg_stat_activity)::int AS free")
    const instances = Math.min(settings.instances, Math.floor((Number(room.free) - 10) / perInstance))
    if (instances < 2) throw new Error(`PostgreSQL at DATABASE_URL has room for ${Number(room.free)} more connections: too few for a fleet`)
    return { ...settings, instances }
  }
  const kinds: Array<{ store: string, kind: FleetStoreKind, listen: boolean }> = [
    { store: 'PostgreSQL, LISTEN', kind: 'postgres', listen: true },
    { store: 'PostgreSQL, listen: false', kind: 'postgres', listen: false }
  ]
  for (const { store, kind, listen } of kinds) {
    if (!listen && !pollOnlySupported()) {
      rows.push(notMeasured(store, settings, 'not measured: this tree\'s postgresStore has no listen option'))
      continue
    }
    const label = `fleet${process.pid}_${listen ? 'l' : 'p'}`
    const poolMax = listen ? settings.poolMax : settings.poolMax - 1
    const fleetSettings = await fitted(poolMax)
    const command = { kind, url: postgresUrl, namespace: pgNamespace, label, listen, poolMax, warmConcurrency: settings.warmConcurrency }
    rows.push(await measureFleet(store, command, pgMonitor, fleetSettings))
  }

  const redisNamespace = uniqueNamespace('fleet_redis')
  const redisWriterClient = new Redis(redisUrl)
  const redisWriter = redisStore({ client: redisWriterClient, namespace: redisNamespace })
  cleanups.push(async () => {
    await redisWriter.close()
    let cursor = '0'
    do {
      const [next, keys] = await redisWriterClient.scan(cursor, 'MATCH', `{fastify-anon-key:${redisNamespace}*`, 'COUNT', 1000)
      if (keys.length > 0) await redisWriterClient.del(...keys)
      cursor = next
    } while (cursor !== '0')
    redisWriterClient.disconnect()
  })
  await provision(redisWriter, settings.tenants)
  const redisMonitorClient = await redisMonitor(redisUrl, ownServers)
  cleanups.push(() => redisMonitorClient.close())
  rows.push(await measureFleet('Redis', {
    kind: 'redis', url: redisUrl, namespace: redisNamespace, label: `fleet${process.pid}_r`, listen: true, poolMax: 0, warmConcurrency: settings.warmConcurrency
  }, redisMonitorClient, settings))
  return { services: notes.join('; '), rows }
}

serve({ run }, async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
})

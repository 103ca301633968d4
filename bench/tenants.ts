import type { FastifyInstance } from 'fastify'
import { initializeProject } from '../lib/domain/transitions.js'
import { type AnonKeyProjectApi, type AnonKeyStore } from '../lib/index.js'
import { generateAnonKey } from '../lib/stores/index.js'
import { countingStore } from '../test/helpers/counting-store.js'
import { anonKeyApp, tenantModeApp } from './apps.js'
import { serve } from './child.js'
import { settledHeap } from './heap.js'
import { percentile } from './stats.js'
import { backend, STORE_KINDS, uniqueNamespace, type StoreKind } from './stores.js'

/**
 * Child process: tenant mode (issue 13) on each persistent store, one namespace each:
 * - provisioning: `provisioned` tenants written through the store, each with its default key, `PROVISION_CONCURRENCY`
 *   at a time; the time taken and what the store holds for them after;
 * - cold first requests: an instance that has never seen them verifies the first request of each of `hot` tenants,
 *   one after another (each one store call); their p50 and p99, and the heap the cache of `hot` tenants takes;
 * - steady state: requests spread over the hot tenants, counting store calls (must be 0);
 * - propagation: a 0 h rotation of a hot tenant through a second instance, until the first refuses the old key,
 *   alternating with the same between two single-project instances;
 * - a flood: requests naming random tenants, `FLOOD_CONCURRENCY` at once with `maxTenantLoads` 100, with a
 *   request of a hot tenant after each batch: the store calls made, the answers, and the store's own CPU time.
 * Every request goes through Fastify (inject) and the route's verifyAnonKey hook.
 */

export interface StoreTenantsResult {
  kind: StoreKind
  provisioned: number
  provisionSeconds: number
  /** What the store holds for the provisioned tenants (PostgreSQL: the rows; Redis: MEMORY USAGE of the hashes). */
  storeBytes: number
  hot: number
  coldP50Ms: number
  coldP99Ms: number
  coldMaxMs: number
  heapPerTenantBytes: number
  steadyRequests: number
  steadyStoreCalls: number
  propagations: number
  /** A tenant's rotation reaching the instance that holds every hot tenant. */
  propagationP50Ms: number
  propagationP99Ms: number
  /** The same, in the same rounds, between two single-project instances. */
  singlePropagationP50Ms: number
  singlePropagationP99Ms: number
  flood: {
    requests: number
    concurrency: number
    maxTenantLoads: number
    seconds: number
    /** Store calls during the flood, by method. */
    storeCalls: Record<string, number>
    refused503: number
    refused401: number
    hotRequests: number
    hotFailures: number
    hotP99Ms: number
    /** CPU seconds the store's own server spent meanwhile (see storeCpu), or null where it cannot be read. */
    storeCpuSeconds: number | null
    storeCpuNote: string
  }
}

export interface TenantsResult {
  stores: StoreTenantsResult[]
}

const MAX_TENANT_LOADS = 100
const PROVISION_CONCURRENCY = 16
const PROPAGATION_TIMEOUT_MS = 5000

async function timedRequest (app: FastifyInstance, tenant: string, key: string): Promise<{ status: number, ms: number }> {
  const started = performance.now()
  const response = await app.inject({ url: '/data', headers: { 'x-tenant': tenant, authorization: `Bearer ${key}` } })
  return { status: response.statusCode, ms: performance.now() - started }
}

async function provision (store: AnonKeyStore, count: number): Promise<string[]> {
  const keys: string[] = new Array(count)
  let next = 0
  const worker = async (): Promise<void> => {
    for (let i = next++; i < count; i = next++) {
      const key = generateAnonKey()
      await store.update(`p${i}`, (state) => initializeProject(state, { key, now: Date.now() }))
      keys[i] = key
    }
  }
  await Promise.all(Array.from({ length: PROVISION_CONCURRENCY }, worker))
  return keys
}

/** CPU seconds spent between two readings, per process: one that started meanwhile counts whole. */
function cpuSpent (before: Record<string, number>, after: Record<string, number>): number {
  return Object.entries(after).reduce((sum, [process, seconds]) => sum + seconds - (before[process] ?? 0), 0)
}

async function until (what: string, condition: () => Promise<boolean>): Promise<void> {
  const started = performance.now()
  while (!(await condition())) {
    if (performance.now() - started > PROPAGATION_TIMEOUT_MS) throw new Error(`${what}: not within ${PROPAGATION_TIMEOUT_MS} ms`)
    await new Promise((resolve) => setImmediate(resolve))
  }
}

/** From the call of a 0 h rotation through `rotator` until `watcher`, another instance, refuses the old key (ms). */
async function propagation (rotator: AnonKeyProjectApi, watcher: AnonKeyProjectApi, what: string): Promise<{ ms: number, newKey: string }> {
  const old = (await rotator.get()) as string
  await until(`${what}: the other instance to know the key`, async () => (await watcher.verify(old)).valid)
  const started = performance.now()
  const rotated = rotator.rotate({ gracePeriodHours: 0 })
  await until(`${what}: the other instance to refuse the rotated key`, async () => !(await watcher.verify(old)).valid)
  const ms = performance.now() - started
  return { ms, newKey: (await rotated).anonKey }
}

async function measure (kind: StoreKind, short: boolean): Promise<StoreTenantsResult> {
  const PROVISIONED = short ? 1000 : 100_000
  const HOT = short ? 200 : 10_000
  const STEADY = short ? 2000 : 20_000
  const FLOOD = short ? 2000 : 100_000
  const FLOOD_CONCURRENCY = 2 * MAX_TENANT_LOADS
  const PROPAGATIONS = short ? 5 : 100

  const namespace = uniqueNamespace(`tenants_${kind}`)
  // The writer provisions PROVISION_CONCURRENCY tenants at once: on PostgreSQL, with as many connections.
  const writer = await backend(kind).connect(namespace, PROVISION_CONCURRENCY)
  const connection = await backend(kind).connect(namespace)
  const counting = countingStore(connection.store)
  const limits = { maxCachedTenants: HOT, maxTenantLoads: MAX_TENANT_LOADS }
  const reader = tenantModeApp(counting.store, limits)
  const other = tenantModeApp(writer.store, limits)
  const singleNamespace = uniqueNamespace(`single_${kind}`)
  const singleConnections = [await backend(kind).connect(singleNamespace), await backend(kind).connect(singleNamespace)]
  const [singleA, singleB] = singleConnections.map((single) => anonKeyApp(single.store))
  try {
    const provisionStart = performance.now()
    const keys = await provision(writer.store, PROVISIONED)
    const provisionSeconds = (performance.now() - provisionStart) / 1000
    const storeBytes = await writer.size?.() ?? Number.NaN

    await reader.ready()
    await other.ready()
    await singleA.ready()
    await singleB.ready()
    // The heap is read after the first half of the cold loads and after the second: the first half also pays
    // for what warms up once (compiled code, the client library's buffers settling after provisioning).
    const cold: number[] = []
    const heap: number[] = []
    for (let i = 0; i < HOT; i++) {
      if (i === HOT / 2) heap.push(await settledHeap())
      const { status, ms } = await timedRequest(reader, `p${i}`, keys[i])
      if (status !== 200) throw new Error(`${kind}: the first request of tenant p${i} answered ${status}`)
      cold.push(ms)
    }
    heap.push(await settledHeap())
    const heapPerTenantBytes = (heap[1] - heap[0]) / (HOT / 2)

    counting.reset()
    for (let i = 0; i < STEADY; i++) {
      const tenant = (i * 7919) % HOT // a stride through the hot tenants, so that consecutive requests differ
      const { status } = await timedRequest(reader, `p${tenant}`, keys[tenant])
      if (status !== 200) throw new Error(`${kind}: cached tenant p${tenant} answered ${status}`)
    }
    const steadyStoreCalls = counting.total()

    // Beside it, in the same rounds, the same between two single-project instances on a namespace of their own.
    const tenantPropagation: number[] = []
    const singlePropagation: number[] = []
    for (let i = 0; i < PROPAGATIONS; i++) {
      const hot = (i * 131) % HOT
      const tenant = await propagation(other.anonKey.forTenant(`p${hot}`), reader.anonKey.forTenant(`p${hot}`), `${kind} tenant p${hot}`)
      tenantPropagation.push(tenant.ms)
      keys[hot] = tenant.newKey
      singlePropagation.push((await propagation(singleA.anonKey, singleB.anonKey, `${kind} single project`)).ms)
    }

    counting.reset()
    const cpuBefore = await connection.serverCpu?.() ?? null
    const floodStart = performance.now()
    let refused503 = 0
    let refused401 = 0
    let hotFailures = 0
    const hotTimes: number[] = []
    for (let sent = 0; sent < FLOOD; sent += FLOOD_CONCURRENCY) {
      const batch = Math.min(FLOOD_CONCURRENCY, FLOOD - sent)
      const answers = await Promise.all(Array.from({ length: batch }, async () =>
        (await timedRequest(reader, `random-${Math.floor(Math.random() * 1e12)}`, keys[0])).status))
      for (const status of answers) {
        if (status === 503) refused503 += 1
        else if (status === 401) refused401 += 1
        else throw new Error(`${kind}: a request naming a random tenant answered ${status}`)
      }
      const tenant = (sent / FLOOD_CONCURRENCY) % HOT
      const hot = await timedRequest(reader, `p${tenant}`, keys[tenant])
      hotTimes.push(hot.ms)
      if (hot.status !== 200) hotFailures += 1
    }
    const floodSeconds = (performance.now() - floodStart) / 1000
    const cpuAfter = await connection.serverCpu?.() ?? null

    return {
      kind,
      provisioned: PROVISIONED,
      provisionSeconds,
      storeBytes,
      hot: HOT,
      coldP50Ms: percentile(cold, 50),
      coldP99Ms: percentile(cold, 99),
      coldMaxMs: Math.max(...cold),
      heapPerTenantBytes,
      steadyRequests: STEADY,
      steadyStoreCalls,
      propagations: PROPAGATIONS,
      propagationP50Ms: percentile(tenantPropagation, 50),
      propagationP99Ms: percentile(tenantPropagation, 99),
      singlePropagationP50Ms: percentile(singlePropagation, 50),
      singlePropagationP99Ms: percentile(singlePropagation, 99),
      flood: {
        requests: FLOOD,
        concurrency: FLOOD_CONCURRENCY,
        maxTenantLoads: MAX_TENANT_LOADS,
        seconds: floodSeconds,
        storeCalls: counting.counts(),
        refused503,
        refused401,
        hotRequests: hotTimes.length,
        hotFailures,
        hotP99Ms: percentile(hotTimes, 99),
        storeCpuSeconds: cpuBefore === null || cpuAfter === null ? null : cpuSpent(cpuBefore.processes, cpuAfter.processes),
        storeCpuNote: cpuAfter?.note ?? 'not readable'
      }
    }
  } finally {
    await reader.close()
    await other.close()
    await singleA.close()
    await singleB.close()
    for (const single of singleConnections) await single.close()
    await connection.close()
    await writer.close()
  }
}

async function main (): Promise<void> {
  const short = process.argv.includes('--short')
  serve({
    run: async (): Promise<TenantsResult> => {
      const stores: StoreTenantsResult[] = []
      for (const kind of STORE_KINDS.filter((candidate): candidate is Exclude<StoreKind, 'memory'> => candidate !== 'memory')) {
        stores.push(await measure(kind, short))
      }
      return { stores }
    }
  })
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})

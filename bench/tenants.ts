import Fastify, { type FastifyInstance } from 'fastify'
import { countingStore } from '../test/helpers/counting-store.js'
import { BENCH_TIMER_MS, JWT_SECRET } from './apps.js'
import { serve } from './child.js'
import { settledHeap } from './heap.js'
import { backend, STORE_KINDS, uniqueNamespace, type StoreKind } from './stores.js'
import anonKey, { type AnonKeyStore } from '../lib/index.js'

/** Tenant mode (issue 13): heap per cached tenant, cold first requests, and a flood of unknown tenants. */
export interface TenantsResult {
  cachedTenants: number
  heapPerTenantBytes: number
  storeCallsPerCachedRequest: number
  cold: Array<{ kind: StoreKind, tenants: number, p50Ms: number, p99Ms: number }>
  flood: { requests: number, distinct: number, maxTenantLoads: number, storeCalls: number, refused503: number, realTenantFailures: number }
}

function tenantApp (store: AnonKeyStore, options: { maxTenantLoads?: number, maxCachedTenants?: number } = {}): FastifyInstance {
  const app = Fastify({ logger: false })
  app.register(anonKey, {
    jwt: { secret: JWT_SECRET },
    store,
    cacheTtlMs: BENCH_TIMER_MS,
    usageFlushMs: BENCH_TIMER_MS,
    tenant: (request) => request.headers['x-tenant'] as string | undefined,
    authorize: () => true,
    ...options
  })
  app.get('/data', { onRequest: app.verifyAnonKey }, async () => ({ hello: 'world' }))
  return app
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]

async function main (): Promise<void> {
  const short = process.argv.includes('--short')
  const CACHED = short ? 1000 : 10_000
  const COLD = short ? 50 : 500
  const FLOOD = short ? 2000 : 20_000

  serve({
    run: async (): Promise<TenantsResult> => {
      // Heap per cached tenant, on the memory store: provision, then load every tenant into the cache.
      const connection = await backend('memory').connect(uniqueNamespace('tenants'))
      const counting = countingStore(connection.store)
      const app = tenantApp(counting.store, { maxCachedTenants: CACHED })
      await app.ready()
      const keys: string[] = []
      for (let i = 0; i < CACHED; i++) keys.push((await app.anonKey.forTenant(`t${i}`).initialize()).anonKey)
      await app.close()
      const warm = tenantApp(counting.store, { maxCachedTenants: CACHED })
      await warm.ready()
      const before = await settledHeap()
      for (let i = 0; i < CACHED; i++) await warm.anonKey.forTenant(`t${i}`).verify(keys[i])
      const heapPerTenantBytes = (await settledHeap() - before) / CACHED
      counting.reset()
      const requests = short ? 2000 : 20_000
      for (let i = 0; i < requests; i++) {
        const tenant = i % CACHED
        const response = await warm.inject({ url: '/data', headers: { 'x-tenant': `t${tenant}`, authorization: `Bearer ${keys[tenant]}` } })
        if (response.statusCode !== 200) throw new Error(`t${tenant} answered ${response.statusCode}`)
      }
      const storeCallsPerCachedRequest = counting.total() / requests

      // A flood of requests naming random tenants, with real tenants verifying in between.
      counting.reset()
      let refused503 = 0
      let realTenantFailures = 0
      const distinct = new Set<string>()
      for (let batch = 0; batch < FLOOD / 100; batch++) {
        const answers = await Promise.all(Array.from({ length: 100 }, async (_, i) => {
          const tenant = `random-${Math.floor(Math.random() * 1e9)}`
          distinct.add(tenant)
          return (await warm.inject({ url: '/data', headers: { 'x-tenant': tenant, authorization: `Bearer ${keys[i]}` } })).statusCode
        }))
        refused503 += answers.filter((status) => status === 503).length
        const real = await warm.inject({ url: '/data', headers: { 'x-tenant': 't1', authorization: `Bearer ${keys[1]}` } })
        if (real.statusCode !== 200) realTenantFailures += 1
      }
      const flood = { requests: FLOOD, distinct: distinct.size, maxTenantLoads: 100, storeCalls: counting.total(), refused503, realTenantFailures }
      await warm.close()
      await connection.close()

      // Cold first request of a tenant on each persistent store.
      const cold: TenantsResult['cold'] = []
      for (const kind of STORE_KINDS.filter((candidate) => candidate !== 'memory')) {
        const writer = await backend(kind).connect(uniqueNamespace('cold'))
        const provisioner = tenantApp(writer.store)
        await provisioner.ready()
        const coldKeys: string[] = []
        for (let i = 0; i < COLD; i++) coldKeys.push((await provisioner.anonKey.forTenant(`c${i}`).initialize()).anonKey)
        await provisioner.close()
        const reader = tenantApp(writer.store)
        await reader.ready()
        const times: number[] = []
        for (let i = 0; i < COLD; i++) {
          const started = performance.now()
          const response = await reader.inject({ url: '/data', headers: { 'x-tenant': `c${i}`, authorization: `Bearer ${coldKeys[i]}` } })
          times.push(performance.now() - started)
          if (response.statusCode !== 200) throw new Error(`cold c${i} answered ${response.statusCode}`)
        }
        await reader.close()
        await writer.close()
        times.sort((a, b) => a - b)
        cold.push({ kind, tenants: COLD, p50Ms: percentile(times, 0.5), p99Ms: percentile(times, 0.99) })
      }
      return { cachedTenants: CACHED, heapPerTenantBytes, storeCallsPerCachedRequest, cold, flood }
    }
  })
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})

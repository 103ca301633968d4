/**
 * `npx tsx bench/usage-footprint.ts`: what usage counting holds in memory and hands to the store, for 10,000
 * tenants with 3 keys each (the default key and two named keys), all cached on one instance (memory store).
 * - the heap the counters take: after one verification of every key, against the same instance with every key
 *   cached and nothing counted (full garbage collections before each figure);
 * - that a second verification of every key adds nothing (a verification is one increment);
 * - the write per flush: the batches the instance hands to the store's recordUsage() at the flush (here the one
 *   app.close() makes), as JSON, and the rows they add.
 * Verifications go through app.verifyAnonKey as Fastify calls it, with a new header string each call.
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import Fastify from 'fastify'
import anonKey, { memoryStore } from '../lib/index.js'
import type { UsageBatch } from '../lib/stores/index.js'
import { countingStore } from '../test/helpers/counting-store.js'

const TENANTS = Number(process.argv[2] ?? 10_000)
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
const heapUsed = (): number => { gc(); gc(); return process.memoryUsage().heapUsed }
const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(2)} MiB`

type Hook = (request: unknown, reply: unknown, done: (error?: unknown) => void) => void

async function main (): Promise<void> {
  const store = memoryStore()
  const batches: Array<{ project: string, bytes: number, rows: number }> = []
  const recordUsage = store.recordUsage!.bind(store)
  store.recordUsage = async (project: string, batch: UsageBatch) => {
    batches.push({ project, bytes: Buffer.byteLength(JSON.stringify(batch)), rows: batch.verified.length + batch.refused.length + batch.keys.length })
    return await recordUsage(project, batch)
  }
  const counting = countingStore(store)
  const app = Fastify()
  await app.register(anonKey, {
    store: counting.store,
    authorize: () => true,
    tenant: (request) => request.headers['x-tenant'] as string,
    maxCachedTenants: TENANTS,
    // Neither timer fires during the run: the only flush is the one app.close() makes.
    cacheTtlMs: 3_600_000,
    usageFlushMs: 3_600_000
  })
  await app.ready()
  const keys: Array<[string, string]> = []
  for (let i = 0; i < TENANTS; i++) {
    const tenant = `t${i}`
    const api = app.anonKey.forTenant(tenant)
    keys.push([tenant, (await api.initialize()).anonKey])
    keys.push([tenant, (await api.createKey({ name: 'ios' })).anonKey])
    keys.push([tenant, (await api.createKey({ name: 'android' })).anonKey])
  }
  const hook = app.verifyAnonKey as unknown as Hook
  const headers = { authorization: '', 'x-tenant': '' }
  const request = { headers, anonKey: null, log: { warn () {} } }
  const reply = { header () { return this } }
  let refused = 0
  const done = (error?: unknown): void => { if (error !== undefined) refused++ }
  const verifyAll = (): void => {
    for (const [tenant, key] of keys) {
      headers['x-tenant'] = tenant
      headers.authorization = 'Bearer ' + key.slice(0, 10) + key.slice(10) // a new string, as a request brings
      hook(request, reply, done)
    }
  }
  const cached = heapUsed()
  counting.reset()
  verifyAll()
  const counted = heapUsed()
  verifyAll()
  const countedTwice = heapUsed()
  const written = counting.count('update')
  if (refused !== 0) throw new Error(`${refused} verifications refused`)
  const started = performance.now()
  await app.close()
  const flushMs = performance.now() - started
  const bytes = batches.reduce((sum, batch) => sum + batch.bytes, 0)
  const rows = batches.reduce((sum, batch) => sum + batch.rows, 0)
  console.log(`${TENANTS} tenants × 3 keys, ${keys.length} keys, each verified twice (Node ${process.version})`)
  console.log(`heap with every key cached, nothing counted: ${mib(cached)}`)
  console.log(`after one verification of every key: ${mib(counted)}: the counters take ${mib(counted - cached)}, ${((counted - cached) / TENANTS).toFixed(0)} B a tenant, ${((counted - cached) / keys.length).toFixed(0)} B a key`)
  console.log(`after a second verification of every key: ${mib(countedTwice)} (${countedTwice - counted >= 0 ? '+' : ''}${((countedTwice - counted) / 1024).toFixed(1)} KiB)`)
  console.log(`document writes caused by the verifications (first uses): ${written}`)
  console.log(`the flush: ${batches.length} recordUsage() calls, ${mib(bytes)} of JSON (${(bytes / batches.length).toFixed(0)} B a tenant), ${rows} rows (${(rows / batches.length).toFixed(1)} a tenant), in ${flushMs.toFixed(0)} ms on the memory store`)
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})

import type { FastifyReply, FastifyRequest } from 'fastify'
import { createHash } from 'node:crypto'
import { digestOf } from '../lib/domain/key.js'
import { anonKeyApp, tenantModeApp } from './apps.js'
import { serve } from './child.js'
import { countingStore } from '../test/helpers/counting-store.js'
import { median } from './stats.js'
import { backend, uniqueNamespace } from './stores.js'
import { firstUseWritten } from './first-use.js'
import { MIRROR } from '../lib/keys/api.js'
import type { Mirror } from '../lib/keys/mirror.js'

/**
 * Child process: operations per second of one verification, in four cases, measured five ways:
 * - header: `cache.currentForHeader(header)`, the hook's fast path for "Bearer <current key>" (a miss otherwise);
 * - lookup: `cache.lookup(key, Date.now())`, the in-process cache read behind verify() and behind the hook for
 *   anything but the exact header "Bearer <current key>". In these two the string is reused, so V8 has its
 *   hash cached: they show the cache read alone;
 * - hook: verifyAnonKey itself, called as Fastify calls it, with a new header string for every call (built by
 *   concatenation and included in the time), since a real request brings a string V8 has never hashed;
 * - tenant hook: the same in tenant mode, 1,000 tenants cached, each call naming another of them (in a new
 *   string too), with that tenant's key of the kind measured: the resolver, the tenant lookup and the LRU on top;
 * - verify(): the public `app.anonKey.verify(key)`, which returns a promise (created, not awaited);
 * - await verify(): the same, awaited one after another.
 * All on one core (this process's main thread), with a store wrapped to count calls: the count must stay 0.
 */

const SAMPLES_SHORT = 3
const SAMPLES_FULL = 3

export interface MicroResult {
  seconds: number
  rows: Array<{ id: OperationId, operation: string, kind: string, opsPerSecond: number }>
  storeCalls: number
  verifications: number
  /** SHA-256 of a presented key per second, the way digestOf does it (crypto.hash) and the way it did (createHash). */
  digests: { hash: number, createHash: number }
  /** CPU time over wall time while measuring: the share of a core this process got. */
  coreShare: number
}

type Loop = (key: string, count: number) => number
export type OperationId = 'header' | 'lookup' | 'hook' | 'tenant-hook' | 'verify' | 'await'

const TENANTS = 1000

const UNKNOWN_KEY = 'anon_' + 'ab'.repeat(32)

/**
 * Tenant mode on its own memory store: TENANTS tenants, each rotated once with a grace, so that each has a
 * current and a previous key; all loaded into the cache as first requests would.
 */
async function tenantSetup (store: ReturnType<typeof countingStore>['store']) {
  const app = tenantModeApp(store)
  await app.ready()
  const current: string[] = []
  const previous: string[] = []
  for (let i = 0; i < TENANTS; i++) {
    const tenant = app.anonKey.forTenant(`tenant-${i}`)
    previous.push((await tenant.initialize()).anonKey)
    current.push((await tenant.rotate({ gracePeriodHours: 1 })).anonKey)
    await tenant.verify(current[i])
    // The first unknown key of a version loads the tenant's retired keys (one store call): before counting.
    await tenant.verify(UNKNOWN_KEY)
  }
  return { app, current, previous }
}

async function main (): Promise<void> {
  const short = process.argv.includes('--short')
  const sampleSeconds = short ? 0.02 : 0.1
  const samples = short ? SAMPLES_SHORT : SAMPLES_FULL

  const connection = await backend('memory').connect(uniqueNamespace('micro'))
  const counting = countingStore(connection.store)
  const app = anonKeyApp(counting.store)
  const tenantConnection = await backend('memory').connect(uniqueNamespace('micro_tenants'))
  const tenantCounting = countingStore(tenantConnection.store)
  const tenants = await tenantSetup(tenantCounting.store)
  await app.ready()
  const previous = (await app.anonKey.get()) as string
  const current = (await app.anonKey.rotate({ gracePeriodHours: 1 })).anonKey
  await firstUseWritten(app, current)
  await (app.anonKey as unknown as { [MIRROR]: Mirror })[MIRROR].refresh() // let the store's own notification land before counting
  const kinds: Record<string, string> = {
    'current key': current,
    'previous key': previous,
    'unknown key': UNKNOWN_KEY,
    'malformed value': 'anon_not-a-key'
  }

  // The first unknown key of a version loads the project's retired keys (one store call); measured after it.
  await app.anonKey.verify(kinds['unknown key'])
  const cache = (app.anonKey as unknown as { [MIRROR]: Mirror })[MIRROR].single!
  const lookup: Loop = (key, count) => {
    let hits = 0
    for (let i = 0; i < count; i++) if (typeof cache.lookup(key, Date.now()) !== 'string') hits++
    return hits
  }
  const fastPath: Loop = (key, count) => {
    const header = `Bearer ${key}`
    let hits = 0
    for (let i = 0; i < count; i++) if (cache.currentForHeader(header) !== undefined) hits++
    return hits
  }
  const hook = app.verifyAnonKey
  const reply = { header () { return this } } as unknown as FastifyReply
  let passed = 0
  const done = (error?: unknown): void => { if (error === undefined) passed++ }
  const callHook: Loop = (key, count) => {
    const headers = { authorization: '' }
    const request = { headers, anonKey: null } as unknown as FastifyRequest
    passed = 0
    for (let i = 0; i < count; i++) {
      headers.authorization = 'Bearer ' + key
      hook(request, reply, done)
    }
    return passed
  }
  const tenantHook = tenants.app.verifyAnonKey
  // The tenants' key of the kind measured, by the single project's key of that kind; other values are the same.
  const tenantKeys = new Map<string, (tenant: number) => string>([
    [current, (tenant) => tenants.current[tenant]],
    [previous, (tenant) => tenants.previous[tenant]]
  ])
  const callTenantHook: Loop = (key, count) => {
    const headers = { authorization: '', 'x-tenant': '' }
    const request = { headers, anonKey: null } as unknown as FastifyRequest
    const keyOf = tenantKeys.get(key) ?? (() => key)
    passed = 0
    for (let i = 0; i < count; i++) {
      const tenant = (i * 7) % TENANTS
      headers['x-tenant'] = 'tenant-' + tenant
      headers.authorization = 'Bearer ' + keyOf(tenant)
      tenantHook(request, reply, done)
    }
    return passed
  }
  const api = app.anonKey
  const verify: Loop = (key, count) => {
    let last: unknown
    for (let i = 0; i < count; i++) last = api.verify(key)
    return last === undefined ? 0 : 1
  }
  async function awaitVerify (key: string, count: number): Promise<number> {
    let hits = 0
    for (let i = 0; i < count; i++) if ((await api.verify(key)).valid) hits++
    return hits
  }

  let verifications = 0
  let cpuTotal = 0
  let wallTotal = 0
  /**
   * Median of `samples` windows, each a batch sized to take about `sampleSeconds`. Time is this process's CPU
   * time (process.cpuUsage), not the wall clock: on a machine whose cores are shared with other work, the
   * process may wait for a core, and waiting is not the cost of a verification.
   */
  async function opsPerSecond (run: (key: string, count: number) => number | Promise<number>, key: string): Promise<number> {
    const timed = async (count: number): Promise<number> => {
      const wall = process.hrtime.bigint()
      const cpu = process.cpuUsage()
      await run(key, count)
      const used = process.cpuUsage(cpu)
      const seconds = (used.user + used.system) / 1e6
      cpuTotal += seconds
      wallTotal += Number(process.hrtime.bigint() - wall) / 1e9
      verifications += count
      return seconds
    }
    let batch = 1000
    for (;;) { // size the batch (also the warm-up)
      const seconds = await timed(batch)
      if (seconds >= sampleSeconds / 4) {
        batch = Math.max(1000, Math.round(batch * sampleSeconds / seconds))
        break
      }
      batch *= 4
    }
    const rates: number[] = []
    for (let sample = 0; sample < samples; sample++) rates.push(batch / await timed(batch))
    return median(rates)
  }

  const operations: Array<[OperationId, string, (key: string, count: number) => number | Promise<number>]> = [
    ['header', 'cache.currentForHeader(header), string reused', fastPath],
    ['lookup', 'cache.lookup(key), key string reused', lookup],
    ['hook', 'verifyAnonKey hook, new header string each call', callHook],
    ['tenant-hook', `the same in tenant mode, ${TENANTS} tenants cached, another each call`, callTenantHook],
    ['verify', 'verify(key) call, promise not awaited', verify],
    ['await', 'await verify(key)', awaitVerify]
  ]
  serve({
    run: async (): Promise<MicroResult> => {
      counting.reset()
      tenantCounting.reset()
      const started = process.hrtime.bigint()
      const rows: MicroResult['rows'] = []
      for (const [id, operation, run] of operations) {
        for (const [kind, key] of Object.entries(kinds)) rows.push({ id, operation, kind, opsPerSecond: await opsPerSecond(run, key) })
      }
      const presented = kinds['unknown key']
      const digests = {
        hash: await opsPerSecond((key, count) => { let length = 0; for (let i = 0; i < count; i++) length += digestOf(key).length; return length }, presented),
        createHash: await opsPerSecond((key, count) => { let length = 0; for (let i = 0; i < count; i++) length += createHash('sha256').update(key).digest('hex').length; return length }, presented)
      }
      return {
        seconds: Number(process.hrtime.bigint() - started) / 1e9,
        rows,
        storeCalls: counting.total() + tenantCounting.total(),
        verifications,
        digests,
        coreShare: cpuTotal / wallTotal
      }
    }
  }, async () => {
    await app.close()
    await tenants.app.close()
    await connection.close()
    await tenantConnection.close()
  })
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})

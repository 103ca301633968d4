/**
 * Why the heap tests send real requests: app.inject() keeps every request it made for some seconds, whatever the
 * route. 20,000 injected requests naming random tenants, the heap after a full GC right after them and 12 s later,
 * on a bare route and on a route guarded by verifyAnonKey in tenant mode.
 * Run: npx tsx bench/inject-heap.ts
 */
import { randomBytes } from 'node:crypto'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import Fastify from 'fastify'
import anonKey, { memoryStore } from '../lib/index.js'

const COUNT = 20_000
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
const heap = (): string => { gc(); gc(); return (process.memoryUsage().heapUsed / 1024 / 1024).toFixed(1) + ' MiB' }

async function measure (label: string, guarded: boolean): Promise<void> {
  const app = Fastify()
  if (guarded) {
    await app.register(anonKey, { store: memoryStore(), authorize: () => true, tenant: (request) => request.headers['x-tenant'] as string, maxCachedTenants: 1000 })
    app.get('/data', { onRequest: app.verifyAnonKey }, async () => 'ok')
  } else {
    app.get('/data', async () => 'ok')
  }
  await app.ready()
  const before = heap()
  for (let sent = 0; sent < COUNT; sent += 100) {
    await Promise.all(Array.from({ length: 100 }, () => app.inject({ url: '/data', headers: { 'x-tenant': randomBytes(12).toString('hex'), authorization: 'Bearer anon_' + randomBytes(32).toString('hex') } })))
  }
  const after = heap()
  await new Promise((resolve) => setTimeout(resolve, 12_000))
  console.log(`${label}: ${before} before, ${after} after ${COUNT} injected requests, ${heap()} 12 s later`)
  await app.close()
}

async function main (): Promise<void> {
  await measure('bare route', false)
  await measure('verifyAnonKey, random tenants', true)
}
main()

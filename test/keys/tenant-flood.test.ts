import { Agent, request } from 'node:http'
import { randomBytes } from 'node:crypto'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import t from 'tap'
import { memoryStore } from '../../lib/index.js'
import { generateAnonKey } from '../../lib/stores/index.js'
import { internalsOf } from '../helpers/app.js'
import { startTenantApp } from '../helpers/tenants.js'

const FLOOD = 20_000
const MIB = 1024 * 1024

function heapAfterGc (): number {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

/** `count` requests over real sockets (app.inject keeps each request for seconds), `concurrency` at a time. */
async function send (port: number, count: number, headers: () => Record<string, string>): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 })
  const statuses: number[] = []
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < count) {
      next += 1
      statuses.push(await new Promise<number>((resolve, reject) => {
        const sent = request({ host: '127.0.0.1', port, path: '/data', agent, headers: headers() }, (response) => {
          response.resume()
          response.on('end', () => resolve(response.statusCode as number))
        })
        sent.on('error', reject)
        sent.end()
      }))
    }
  }
  await Promise.all(Array.from({ length: 16 }, worker))
  agent.destroy()
  return statuses
}

t.test(`${FLOOD} requests naming random tenants keep nothing beyond the bounded cache of tenants without keys`, async (t) => {
  const app = await startTenantApp(t, { store: memoryStore(), maxCachedTenants: 1000, maxTenantLoads: 64 })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const flood = (): Record<string, string> => ({ 'x-tenant': randomBytes(12).toString('hex'), authorization: `Bearer ${generateAnonKey()}` })
  await send(port, 2000, flood) // fills the bounded cache of tenants without keys
  const before = heapAfterGc()
  const statuses = await send(port, FLOOD, flood)
  const grown = (heapAfterGc() - before) / MIB
  t.comment(`heap after ${FLOOD} random tenants: ${grown.toFixed(1)} MiB more than after the first 2,000`)
  t.ok(statuses.every((status) => status === 401 || status === 503), 'every request was refused')
  t.ok(grown < 20, `the heap grew ${grown.toFixed(1)} MiB (about 10 KiB per tenant would be 195 MiB)`)
  t.ok((internalsOf(app).tenants?.tenants().length ?? 0) <= 1000, 'at most maxCachedTenants tenants are held')
  t.equal(internalsOf(app).unreported('nobody'), undefined, 'no usage is counted for a tenant whose key did not verify')
})

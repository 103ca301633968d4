import type { FastifyInstance } from 'fastify'
import { anonKeyApp } from './apps.js'
import { serve } from './child.js'
import { percentile } from './stats.js'
import { backend, uniqueNamespace, type Connection, type StoreKind } from './stores.js'

/**
 * Child process, for each store kind named in argv[2] (comma-separated):
 * - rotation latency: `app.anonKey.rotate()` from call to answer, one rotation after another;
 * - propagation: two apps on one namespace, each with its own client (as two instances would be); from the
 *   moment instance A is asked to rotate with a grace of 0 until instance B refuses the old key. B is polled
 *   on every turn of the event loop; only the store's change notification can refresh it (the fallback
 *   reload is an hour away).
 */

export interface RotationResult {
  kind: StoreKind
  rotations: number
  rotationP50: number
  rotationP99: number
  propagations: number
  propagationP50: number
  propagationP99: number
  propagationMax: number
}

const PROPAGATION_TIMEOUT_MS = 5000

const elapsedMs = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

async function until (what: string, condition: () => Promise<boolean>): Promise<void> {
  const start = process.hrtime.bigint()
  while (!(await condition())) {
    if (elapsedMs(start) > PROPAGATION_TIMEOUT_MS) throw new Error(`${what}: not within ${PROPAGATION_TIMEOUT_MS} ms`)
    await nextTurn()
  }
}

async function measure (kind: StoreKind, short: boolean): Promise<RotationResult> {
  const ROTATIONS = short ? 10 : 200
  const PROPAGATIONS = short ? 5 : 100
  const stores = backend(kind)
  const opened: Array<{ app: FastifyInstance, connection: Connection }> = []
  async function instance (namespace: string): Promise<FastifyInstance> {
    const connection = await stores.connect(namespace)
    const app = anonKeyApp(connection.store)
    opened.push({ app, connection })
    await app.ready()
    return app
  }
  try {
    const single = await instance(uniqueNamespace(`rotate_${kind}`))
    for (let i = 0; i < 5; i++) await single.anonKey.rotate({ gracePeriodHours: 1 }) // warm-up
    const rotation: number[] = []
    for (let i = 0; i < ROTATIONS; i++) {
      const start = process.hrtime.bigint()
      await single.anonKey.rotate({ gracePeriodHours: 1 })
      rotation.push(elapsedMs(start))
    }

    const namespace = uniqueNamespace(`propagate_${kind}`)
    const a = await instance(namespace)
    const b = await instance(namespace)
    const propagation: number[] = []
    for (let i = 0; i < PROPAGATIONS + 3; i++) {
      const old = (await a.anonKey.get()) as string
      await until('instance B to know the current key', async () => (await b.anonKey.verify(old)).valid)
      const start = process.hrtime.bigint()
      const rotated = a.anonKey.rotate({ gracePeriodHours: 0 })
      await until('instance B to refuse the rotated key', async () => !(await b.anonKey.verify(old)).valid)
      const took = elapsedMs(start)
      await rotated
      if (i >= 3) propagation.push(took) // the first three warm up
    }
    return {
      kind,
      rotations: ROTATIONS,
      rotationP50: percentile(rotation, 50),
      rotationP99: percentile(rotation, 99),
      propagations: PROPAGATIONS,
      propagationP50: percentile(propagation, 50),
      propagationP99: percentile(propagation, 99),
      propagationMax: Math.max(...propagation)
    }
  } finally {
    for (const { app, connection } of opened.reverse()) {
      await app.close()
      await connection.close()
    }
  }
}

async function main (): Promise<void> {
  const short = process.argv.includes('--short')
  const kinds = process.argv[2].split(',') as StoreKind[]
  serve({
    run: async (): Promise<RotationResult[]> => {
      const results: RotationResult[] = []
      for (const kind of kinds) results.push(await measure(kind, short))
      return results
    }
  })
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})

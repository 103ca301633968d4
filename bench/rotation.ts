import type { FastifyInstance } from 'fastify'
import { type AnonKeyStore, type ProjectSnapshot } from '../lib/index.js'
import { generateAnonKey } from '../lib/stores/index.js'
import { anonKeyApp } from './apps.js'
import { serve } from './child.js'
import { percentile } from './stats.js'
import { timeRotations, type RotationWindow } from './rotation-loop.js'
import { backend, uniqueNamespace, type Connection, type StoreKind } from './stores.js'
import { keyHandle } from '../lib/conformance/index.js'

/**
 * Child process, for each store kind named in argv[2] (comma-separated):
 * - rotation latency: `app.anonKey.rotate()` from call to answer, one rotation after another, beside the
 *   store's own rotate() called directly, one plain round trip to the same backend, and (PostgreSQL) a bare
 *   durable transaction of the same shape: what the machine allows at that moment;
 * - propagation: two apps on one namespace, each with its own client (as two instances would be); from the
 *   moment instance A is asked to rotate with a grace of 0 until instance B refuses the old key. B is checked
 *   right after each of its store loads, and every millisecond besides; only the store's change notification
 *   can make it load (the fallback reload is an hour away);
 * - growth: 5,000 rotations with a 720 h grace one after another on one namespace, as a key rotated daily
 *   for years (or by a script in a loop) would see; rotation time per window of rotations, which must stay
 *   flat once maxPreviousKeys (100) valid and RETIRED_RECORD_LIMIT (1,000) revoked records are held; the size
 *   of the list answer at the end; and on Redis, the SLOWLOG entries naming this namespace (read, never reset:
 *   the Redis may be shared).
 */

export interface RotationResult {
  kind: StoreKind
  rotations: number
  rotationP50: number
  rotationP99: number
  /** The store's rotate() called directly, without the plugin. */
  storeRotationP50: number
  /** PostgreSQL: a bare transaction of the same shape (see Connection.floor); NaN for other stores. */
  floorP50: number
  floorP99: number
  /** One plain round trip to the backend, timed right after each rotation. */
  roundTripP50: number
  roundTripP99: number
  propagations: number
  propagationP50: number
  propagationP99: number
  propagationMax: number
  /** From the moment A's rotate() answered (the change is committed) until B refuses; 0 when B was first. */
  afterAnswerP50: number
  afterAnswerP99: number
  growth: GrowthResult
}

export interface GrowthResult {
  rotations: number
  /** Rotation time over windows of consecutive rotations. */
  windows: RotationWindow[]
  /** Bytes of the JSON list of previous keys after the last rotation, and how many it lists. */
  listBytes: number
  listed: number
  /** Redis: SLOWLOG entries whose arguments name this namespace; null for other stores. */
  slowlogEntries: number | null
}

const GROWTH_ROTATIONS = 5000
const GROWTH_WINDOW = 100

const PROPAGATION_TIMEOUT_MS = 5000
const ROTATIONS_PER_NAMESPACE = 10

const elapsedMs = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6
/**
 * Counts the loads `store` finishes, and lets a caller wait for the next one (resumed on the following turn of
 * the event loop, once the plugin has taken the snapshot), or 1 ms at the latest. Waiting on it instead of
 * spinning keeps this process off the CPU that the database and the other instance need on a small machine.
 */
interface LoadWatcher {
  store: AnonKeyStore
  /** Loads finished so far. */
  loads: () => number
  /** Resolves once more than `seen` loads have finished, or after 1 ms. */
  after: (seen: number) => Promise<void>
}

function loadWatcher (store: AnonKeyStore): LoadWatcher {
  let loads = 0
  let waiters: Array<() => void> = []
  const finished = (): void => {
    loads++
    const woken = waiters
    waiters = []
    for (const resolve of woken) setImmediate(resolve)
  }
  const watched = new Proxy(store, {
    get (target, property, receiver) {
      const value = Reflect.get(target, property, receiver)
      if (property !== 'load' || typeof value !== 'function') return value
      return (project: string) => {
        const loading = value.call(target, project) as Promise<ProjectSnapshot>
        loading.then(finished, finished)
        return loading
      }
    }
  })
  return {
    store: watched,
    loads: () => loads,
    after: (seen) => new Promise<void>((resolve) => {
      if (loads > seen) {
        setImmediate(resolve)
        return
      }
      const timer = setTimeout(resolve, 1)
      waiters.push(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }
}

async function until (what: string, condition: () => Promise<boolean>, watcher: LoadWatcher): Promise<void> {
  const start = process.hrtime.bigint()
  for (;;) {
    const seen = watcher.loads()
    if (await condition()) return
    if (elapsedMs(start) > PROPAGATION_TIMEOUT_MS) throw new Error(`${what}: not within ${PROPAGATION_TIMEOUT_MS} ms`)
    await watcher.after(seen)
  }
}

async function measureGrowth (kind: StoreKind, short: boolean): Promise<GrowthResult> {
  const rotations = short ? 200 : GROWTH_ROTATIONS
  const windowSize = short ? 20 : GROWTH_WINDOW
  const starts = [0, rotations / 10, rotations / 2, rotations - windowSize].map((at) => Math.floor(at / windowSize) * windowSize)
  const { windows, inspected } = await timeRotations(kind, 'growth', { rotations, gracePeriodHours: 720, windowSize, starts }, async (app, connection, namespace) => {
    const listed = await app.anonKey.listPrevious()
    return {
      listBytes: Buffer.byteLength(JSON.stringify({ previousKeys: listed })),
      listed: listed.length,
      slowlogEntries: connection.slowlog === undefined ? null : await connection.slowlog(namespace)
    }
  })
  return { rotations, windows, ...inspected }
}

async function measure (kind: StoreKind, short: boolean): Promise<RotationResult> {
  const ROTATIONS = short ? 10 : 200
  const PROPAGATIONS = short ? 5 : 100
  const stores = backend(kind)
  const opened: Array<{ app: FastifyInstance, connection: Connection }> = []
  async function instance (namespace: string, watcher?: (store: AnonKeyStore) => AnonKeyStore): Promise<{ app: FastifyInstance, connection: Connection }> {
    const connection = await stores.connect(namespace)
    const app = anonKeyApp(watcher === undefined ? connection.store : watcher(connection.store))
    opened.push({ app, connection })
    await app.ready()
    return { app, connection }
  }
  try {
    // Rotations in blocks of ROTATIONS_PER_NAMESPACE on a fresh namespace each, so that the state stays the
    // size a real deployment has (a handful of previous keys), not hundreds. After each rotation, one plain
    // round trip to the backend (SELECT 1, PING) is timed too: the machine's own latency at that moment.
    const rotation: number[] = []
    const roundTrip: number[] = []
    const storeRotation: number[] = []
    const floor: number[] = []
    while (rotation.length < ROTATIONS) {
      const { app, connection } = await instance(uniqueNamespace(`rotate_${kind}`))
      await app.anonKey.rotate({ gracePeriodHours: 1 }) // warm-up, not timed
      for (let i = 0; i < ROTATIONS_PER_NAMESPACE && rotation.length < ROTATIONS; i++) {
        let start = process.hrtime.bigint()
        await app.anonKey.rotate({ gracePeriodHours: 1 })
        rotation.push(elapsedMs(start))
        start = process.hrtime.bigint()
        const now = Date.now()
        await keyHandle(connection.store).rotate({ newKey: generateAnonKey(), now, expiresAt: now + 3_600_000 })
        storeRotation.push(elapsedMs(start))
        start = process.hrtime.bigint()
        await connection.ping()
        roundTrip.push(elapsedMs(start))
        if (connection.floor !== undefined) {
          start = process.hrtime.bigint()
          await connection.floor()
          floor.push(elapsedMs(start))
        }
      }
      opened.pop()
      await app.close()
      await connection.close()
    }

    const namespace = uniqueNamespace(`propagate_${kind}`)
    const a = (await instance(namespace)).app
    let watcher: LoadWatcher | null = null
    const b = (await instance(namespace, (store) => {
      watcher = loadWatcher(store)
      return watcher.store
    })).app
    const loadsOfB = watcher as unknown as LoadWatcher
    const propagation: number[] = []
    const afterAnswer: number[] = []
    for (let i = 0; i < PROPAGATIONS + 3; i++) {
      const old = (await a.anonKey.get()) as string
      await until('instance B to know the current key', async () => (await b.anonKey.verify(old)).valid, loadsOfB)
      const start = process.hrtime.bigint()
      let answered = 0n
      const rotated = a.anonKey.rotate({ gracePeriodHours: 0 }).then(() => { answered = process.hrtime.bigint() })
      await until('instance B to refuse the rotated key', async () => !(await b.anonKey.verify(old)).valid, loadsOfB)
      const refused = process.hrtime.bigint()
      await rotated
      if (i >= 3) { // the first three warm up
        propagation.push(Number(refused - start) / 1e6)
        afterAnswer.push(Math.max(0, Number(refused - answered) / 1e6))
      }
    }
    return {
      kind,
      rotations: ROTATIONS,
      rotationP50: percentile(rotation, 50),
      rotationP99: percentile(rotation, 99),
      storeRotationP50: percentile(storeRotation, 50),
      floorP50: percentile(floor, 50),
      floorP99: percentile(floor, 99),
      roundTripP50: percentile(roundTrip, 50),
      roundTripP99: percentile(roundTrip, 99),
      propagations: PROPAGATIONS,
      propagationP50: percentile(propagation, 50),
      propagationP99: percentile(propagation, 99),
      propagationMax: Math.max(...propagation),
      afterAnswerP50: percentile(afterAnswer, 50),
      afterAnswerP99: percentile(afterAnswer, 99),
      growth: await measureGrowth(kind, short)
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

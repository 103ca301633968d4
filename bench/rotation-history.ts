import { SINGLE_PROJECT } from '../lib/domain/names.js'
import { anonKeyApp } from './apps.js'
import { serve } from './child.js'
import { percentile } from './stats.js'
import { backend, uniqueNamespace, type StoreKind } from './stores.js'

/**
 * Child process: does a rotation get slower as a key's history grows? For each store kind named in argv[2], one
 * namespace is rotated `rotations` times in a row through `app.anonKey.rotate({ gracePeriodHours: 0 })`, so that
 * every rotation retires a key at once and the retired records pile up to the retention limit (1,000 a project),
 * the most a project document ever holds of them. Latency is reported for windows of consecutive rotations.
 */

export interface HistoryWindow {
  /** The first and last rotation of the window, 1-based. */
  from: number
  to: number
  p50: number
  p99: number
}

export interface RotationHistoryResult {
  kind: StoreKind
  rotations: number
  windows: HistoryWindow[]
  /** Bytes of the project document as JSON after the last rotation. */
  documentBytes: number
  /** Previous-key records it holds then. */
  records: number
}

const elapsedMs = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6

async function measure (kind: StoreKind, rotations: number, windowSize: number): Promise<RotationHistoryResult> {
  const connection = await backend(kind).connect(uniqueNamespace(`history_${kind}`))
  const app = anonKeyApp(connection.store)
  try {
    await app.ready()
    const times: number[] = []
    for (let i = 0; i < rotations; i++) {
      const start = process.hrtime.bigint()
      await app.anonKey.rotate({ gracePeriodHours: 0 })
      times.push(elapsedMs(start))
    }
    const marks = [windowSize, 1000, 2000, rotations].filter((mark, i, all) => mark <= rotations && all.indexOf(mark) === i)
    const windows = marks.map((to) => {
      const slice = times.slice(to - windowSize, to)
      return { from: to - windowSize + 1, to, p50: percentile(slice, 50), p99: percentile(slice, 99) }
    })
    const { state } = await connection.store.load(SINGLE_PROJECT)
    return { kind, rotations, windows, documentBytes: Buffer.byteLength(JSON.stringify(state)), records: state.keys[0].previousKeys.length }
  } finally {
    await app.close()
    await connection.close()
  }
}

async function main (): Promise<void> {
  const short = process.argv.includes('--short')
  const kinds = process.argv[2].split(',') as StoreKind[]
  serve({
    run: async (): Promise<RotationHistoryResult[]> => {
      const results: RotationHistoryResult[] = []
      for (const kind of kinds) results.push(await measure(kind, short ? 200 : 5000, short ? 50 : 100))
      return results
    }
  })
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})

import { SINGLE_PROJECT } from '../lib/domain/names.js'
import { serve } from './child.js'
import { timeRotations, type RotationWindow } from './rotation-loop.js'
import type { StoreKind } from './stores.js'

/**
 * Child process: does a rotation get slower as a key's history grows? For each store kind named in argv[2], one
 * namespace is rotated `rotations` times in a row through `app.anonKey.rotate({ gracePeriodHours: 0 })`, so that
 * every rotation retires a key at once and the retired keys pile up to the retention limit (1,000 a project).
 * They leave the project document for the store's retired keys, so the document, and the cost of a rotation,
 * must stay the same from the first rotation to the last. Latency is reported for windows of consecutive
 * rotations.
 */

export interface RotationHistoryResult {
  kind: StoreKind
  rotations: number
  windows: RotationWindow[]
  /** Bytes of the project document as JSON after the last rotation. */
  documentBytes: number
  /** Previous-key records the document holds then. */
  records: number
  /** Retired keys the store holds then (store.loadRetired). */
  retired: number
}

async function measure (kind: StoreKind, rotations: number, windowSize: number): Promise<RotationHistoryResult> {
  const ends = [windowSize, 1000, 2000, rotations].filter((end) => end <= rotations)
  const { windows, inspected } = await timeRotations(kind, 'history', { rotations, gracePeriodHours: 0, windowSize, starts: ends.map((end) => end - windowSize) },
    async (app, connection) => {
      const { state } = await connection.store.load(SINGLE_PROJECT)
      return {
        documentBytes: Buffer.byteLength(JSON.stringify(state)),
        records: state.keys[0].previousKeys.length,
        retired: (await connection.store.loadRetired(SINGLE_PROJECT)).length
      }
    })
  return { kind, rotations, windows, ...inspected }
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

import type { FastifyInstance } from 'fastify'
import { anonKeyApp } from './apps.js'
import { percentile } from './stats.js'
import { backend, uniqueNamespace, type Connection, type StoreKind } from './stores.js'

/** Rotation time over the consecutive rotations `from` to `to` (1-based). */
export interface RotationWindow {
  from: number
  to: number
  p50: number
  p99: number
  mean: number
}

export interface RotationLoop {
  rotations: number
  gracePeriodHours: number
  /** How many consecutive rotations a window holds. */
  windowSize: number
  /** Where each window starts, 0-based. */
  starts: number[]
}

const elapsedMs = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6

/**
 * Rotates one fresh namespace of `kind` `loop.rotations` times in a row through
 * `app.anonKey.rotate({ gracePeriodHours })`, timing each call from call to answer, then hands the app and its
 * connection to `inspect` before closing both. The one timing loop of the rotation and history parts.
 */
export async function timeRotations<R> (kind: StoreKind, label: string, loop: RotationLoop,
  inspect: (app: FastifyInstance, connection: Connection, namespace: string) => Promise<R>): Promise<{ windows: RotationWindow[], inspected: R }> {
  const namespace = uniqueNamespace(`${label}_${kind}`)
  const connection = await backend(kind).connect(namespace)
  const app = anonKeyApp(connection.store)
  try {
    await app.ready()
    const times: number[] = []
    for (let i = 0; i < loop.rotations; i++) {
      const start = process.hrtime.bigint()
      await app.anonKey.rotate({ gracePeriodHours: loop.gracePeriodHours })
      times.push(elapsedMs(start))
    }
    const windows = [...new Set(loop.starts)].map((from) => {
      const slice = times.slice(from, from + loop.windowSize)
      return {
        from: from + 1,
        to: from + slice.length,
        p50: percentile(slice, 50),
        p99: percentile(slice, 99),
        mean: slice.reduce((sum, value) => sum + value, 0) / slice.length
      }
    })
    return { windows, inspected: await inspect(app, connection, namespace) }
  } finally {
    await app.close()
    await connection.close()
  }
}

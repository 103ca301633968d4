import type { AnonKeyStore } from '../../lib/index.js'

export interface CountingStore {
  store: AnonKeyStore
  /** Store calls since the last reset, by method name. */
  counts: () => Record<string, number>
  /** Calls of one method since the last reset. */
  count: (method: keyof AnonKeyStore) => number
  /** The most calls of one method in flight at once (made, not settled yet) since the last reset. */
  peak: (method: keyof AnonKeyStore) => number
  total: () => number
  reset: () => void
}

/**
 * Wraps a store in a proxy that counts every method call made on it, whoever makes it. Tests and the benchmark
 * use the count to show that verification never reaches the store: it must not move while requests are verified.
 */
export function countingStore (inner: AnonKeyStore): CountingStore {
  let counts: Record<string, number> = {}
  let peaks: Record<string, number> = {}
  const inFlight: Record<string, number> = {}
  const store = new Proxy(inner, {
    get (target, property, receiver) {
      const value = Reflect.get(target, property, receiver)
      if (typeof value !== 'function') return value
      return function counted (this: unknown, ...args: unknown[]) {
        const name = String(property)
        counts[name] = (counts[name] ?? 0) + 1
        const result = value.apply(target, args)
        inFlight[name] = (inFlight[name] ?? 0) + 1
        peaks[name] = Math.max(peaks[name] ?? 0, inFlight[name])
        const settled = (): void => { inFlight[name] -= 1 }
        Promise.resolve(result).then(settled, settled)
        return result
      }
    }
  })
  return {
    store,
    counts: () => ({ ...counts }),
    count: (method) => counts[String(method)] ?? 0,
    peak: (method) => peaks[String(method)] ?? 0,
    total: () => Object.values(counts).reduce((sum, count) => sum + count, 0),
    reset: () => {
      counts = {}
      peaks = { ...inFlight }
    }
  }
}

import type { AnonKeyStore } from '../../lib/index.js'

export interface CountingStore {
  store: AnonKeyStore
  /** Store calls since the last reset, by method name. */
  counts: () => Record<string, number>
  /** Calls of one method since the last reset. */
  count: (method: keyof AnonKeyStore) => number
  total: () => number
  reset: () => void
}

/**
 * Wraps a store in a proxy that counts every method call made on it, whoever makes it. Tests and the benchmark
 * use the count to show that verification never reaches the store: it must not move while requests are verified.
 */
export function countingStore (inner: AnonKeyStore): CountingStore {
  let counts: Record<string, number> = {}
  const store = new Proxy(inner, {
    get (target, property, receiver) {
      const value = Reflect.get(target, property, receiver)
      if (typeof value !== 'function') return value
      return function counted (this: unknown, ...args: unknown[]) {
        const name = String(property)
        counts[name] = (counts[name] ?? 0) + 1
        return value.apply(target, args)
      }
    }
  })
  return {
    store,
    counts: () => ({ ...counts }),
    count: (method) => counts[String(method)] ?? 0,
    total: () => Object.values(counts).reduce((sum, count) => sum + count, 0),
    reset: () => { counts = {} }
  }
}

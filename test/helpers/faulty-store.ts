import type { AnonKeyStore } from '../../lib/stores/interface.js'

/** The operations a fault can hit: the store's methods, the unsubscribe it hands out, and its notifications. */
export type StoreOperation = 'load' | 'update' | 'loadRetired' | 'subscribe' | 'unsubscribe' | 'close' | 'notify'

/** fail: the call rejects at once. stall: the call never settles. (For 'notify': notifications are dropped.) */
export type FaultMode = 'fail' | 'stall'

export interface FaultyStore extends AnonKeyStore {
  /** Makes `operation` fail or stall from now on. */
  breakOn (operation: StoreOperation, mode: FaultMode): void
  /** Every operation works again. */
  heal (): void
  /** How many calls were made to each operation, broken or not. */
  readonly calls: Record<string, number>
}

/**
 * Wraps a working store in one that fails or stalls on chosen operations, as a store does when its database
 * is down (fail) or when packets are dropped and the client library waits forever (stall).
 */
export function faultyStore (inner: AnonKeyStore): FaultyStore {
  const faults = new Map<StoreOperation, FaultMode>()
  const calls: Record<string, number> = {}

  function guarded<T> (operation: StoreOperation, run: () => Promise<T>): Promise<T> {
    calls[operation] = (calls[operation] ?? 0) + 1
    const fault = faults.get(operation)
    if (fault === 'fail') return Promise.reject(new Error(`store ${operation} failed: connection refused`))
    if (fault === 'stall') return new Promise<T>(() => {})
    return run()
  }

  const store: FaultyStore = {
    namespace: inner.namespace,
    calls,
    breakOn (operation, mode) { faults.set(operation, mode) },
    heal () { faults.clear() },
    load: (project) => guarded('load', () => inner.load(project)),
    update: (project, change) => guarded('update', () => inner.update(project, change)),
    loadRetired: (project) => guarded('loadRetired', () => inner.loadRetired(project)),
    subscribe: (listener) => guarded('subscribe', async () => {
      const unsubscribe = await inner.subscribe((project) => { if (!faults.has('notify')) listener(project) })
      return () => guarded('unsubscribe', unsubscribe)
    }),
    close: () => guarded('close', () => inner.close())
  }
  return store
}

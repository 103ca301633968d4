import type { AnonKeySnapshot, AnonKeyStore } from './store.js'
import { revokeState, rotateState, type KeyState } from './transitions.js'

const memoryStores = new WeakSet<AnonKeyStore>()

/** Whether a store is a memoryStore(), which loses its key when the process ends. */
export function isMemoryStore (store: AnonKeyStore): boolean {
  return memoryStores.has(store)
}

export interface MemoryStoreOptions {
  namespace?: string
}

/**
 * The reference store: one process, nothing persisted. Every operation runs synchronously between two awaits,
 * which makes it atomic. Apps that share one memoryStore() share its key and hear each other's changes at once.
 */
export function memoryStore (options: MemoryStoreOptions = {}): AnonKeyStore {
  let state: KeyState = { currentKey: null, previousKeys: [] }
  let version = 0
  const listeners = new Set<() => void>()

  function snapshot (): AnonKeySnapshot {
    return { version, currentKey: state.currentKey, previousKeys: state.previousKeys.map((record) => ({ ...record })) }
  }

  function commit (next: KeyState): AnonKeySnapshot {
    state = next
    version += 1
    for (const listener of listeners) queueMicrotask(listener)
    return snapshot()
  }

  const store: AnonKeyStore = {
    namespace: options.namespace ?? 'default',
    async load () {
      return snapshot()
    },
    async initialize (key) {
      if (state.currentKey !== null) return snapshot()
      return commit({ currentKey: key, previousKeys: state.previousKeys })
    },
    async rotate (change) {
      const result = rotateState(state, change)
      if (result === null) return null
      return { snapshot: commit(result.state), retired: result.retired, evicted: result.evicted }
    },
    async revoke (change) {
      const result = revokeState(state, change)
      if (result.revoked.length === 0) return { snapshot: snapshot(), revoked: [] }
      return { snapshot: commit(result.state), revoked: result.revoked }
    },
    async recordUsage (reports) {
      const byDigest = new Map(state.previousKeys.map((record) => [record.digest, record]))
      for (const report of reports) {
        const record = byDigest.get(report.digest)
        if (record === undefined) continue
        record.requests = (record.requests ?? 0) + report.requests
        record.lastSeenAt = Math.max(record.lastSeenAt ?? 0, report.lastSeenAt)
      }
    },
    async subscribe (listener) {
      listeners.add(listener)
      return async () => { listeners.delete(listener) }
    },
    async close () {
      listeners.clear()
    }
  }
  memoryStores.add(store)
  return store
}

import type { AnonKeyStore } from './interface.js'

const kinds = new WeakMap<AnonKeyStore, string>()

/** Marks a built-in store with its kind, which metrics name (`store` attribute). */
export function markStore<S extends AnonKeyStore> (store: S, kind: 'memory' | 'postgres' | 'redis' | 'sqlite'): S {
  kinds.set(store, kind)
  return store
}

/** The kind of a store: a built-in one's, or 'custom'. */
export function storeKind (store: AnonKeyStore): string {
  return kinds.get(store) ?? 'custom'
}

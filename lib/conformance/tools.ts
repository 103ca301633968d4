import { generateAnonKey } from '../key.js'
import type { AnonKeyStore } from '../stores/store.js'

/** What a conformance case gets: fresh namespaces, stores on them, and a bounded wait. */
export interface CaseTools {
  /** A namespace no other case uses. */
  namespace (): string
  /** A store on `namespace`, closed when the case ends. Two calls with one namespace share the same data. */
  store (namespace: string): Promise<AnonKeyStore>
  /** Resolves once `condition()` holds; throws after the suite's notification timeout. */
  waitFor (what: string, condition: () => boolean): Promise<void>
  /** Everything the backend holds for `namespace`, as text, when the suite was given `readRaw`. */
  readRaw: ((namespace: string) => Promise<string>) | null
}

export const HOUR_MS = 60 * 60 * 1000

/** Distinct keys, for candidates and new keys. */
export function keys (count: number): string[] {
  return Array.from({ length: count }, () => generateAnonKey())
}

/** A store that already holds `key` as its current key. */
export async function storeWithKey (tools: CaseTools, key = generateAnonKey()): Promise<{ store: AnonKeyStore, namespace: string, key: string }> {
  const namespace = tools.namespace()
  const store = await tools.store(namespace)
  await store.initialize(key)
  return { store, namespace, key }
}

/** Counts calls, for subscribe checks. */
export function counter (): { calls: number, listener: () => void } {
  const count = { calls: 0, listener: () => { count.calls += 1 } }
  return count
}

export function sleep (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

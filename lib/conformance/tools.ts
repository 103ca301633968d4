import { generateAnonKey } from '../domain/key.js'
import type { AnonKeyStore } from '../stores/interface.js'
import type { KeyHandle } from './key-handle.js'

/** What a conformance case gets: fresh namespaces, stores on them, and a bounded wait. */
export interface CaseTools {
  /** A namespace no other case uses. */
  namespace (): string
  /** A store on `namespace`, closed when the case ends. Two calls with one namespace share the same data. */
  store (namespace: string): Promise<AnonKeyStore>
  /** The single project's `default` key on a new store on `namespace` (closed when the case ends). */
  key (namespace: string): Promise<KeyHandle>
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

/** A store whose single project already holds `key` as its `default` key. */
export async function storeWithKey (tools: CaseTools, key = generateAnonKey()): Promise<{ store: KeyHandle, namespace: string, key: string }> {
  const namespace = tools.namespace()
  const store = await tools.key(namespace)
  await store.initialize(key)
  return { store, namespace, key }
}

/** Counts calls, for subscribe checks, and remembers the projects heard. */
export function counter (): { calls: number, projects: Array<string | null>, listener: (project: string | null) => void } {
  const count = {
    calls: 0,
    projects: [] as Array<string | null>,
    listener: (project: string | null) => {
      count.calls += 1
      count.projects.push(project)
    }
  }
  return count
}

export function sleep (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

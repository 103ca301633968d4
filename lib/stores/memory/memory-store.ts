import { emptyProject, type ProjectState, type RetiredKeyRecord } from '../../domain/project.js'
import { keepRetired } from '../../domain/retention.js'
import { emptyHistory, mergeUsage, trimUsage, type UsageHistory } from '../../domain/usage-history.js'
import { markStore } from '../kind.js'
import type { AnonKeyStore, ChangeListener, ProjectSnapshot } from '../interface.js'

const memoryStores = new WeakSet<AnonKeyStore>()

/** Whether a store is a memoryStore(), which loses its key when the process ends. */
export function isMemoryStore (store: AnonKeyStore): boolean {
  return memoryStores.has(store)
}

export interface MemoryStoreOptions {
  namespace?: string
}

/**
 * The reference store: one process, nothing persisted. One Map from project to its document and version, one
 * from project to its retired keys, one to its usage history; each method runs synchronously between two
 * awaits, which makes it atomic. Apps that share one memoryStore()
 * share its keys and hear each other's changes at once.
 */
export function memoryStore (options: MemoryStoreOptions = {}): AnonKeyStore {
  const namespace = options.namespace ?? 'default'
  const projects = new Map<string, ProjectSnapshot>()
  const retired = new Map<string, RetiredKeyRecord[]>()
  const usage = new Map<string, UsageHistory>()
  const listeners = new Set<ChangeListener>()

  function snapshot (project: string): ProjectSnapshot {
    const held = projects.get(project)
    // A copy, so that a caller who changes what it got changes nothing here.
    return held === undefined ? { version: 0, state: emptyProject() } : structuredClone(held)
  }

  function write (project: string, version: number, state: ProjectState, announce: boolean): ProjectSnapshot {
    projects.set(project, { version, state: structuredClone(state) })
    if (announce) {
      const change = { version, revision: state.revision }
      for (const listener of listeners) queueMicrotask(() => listener(project, change))
    }
    return snapshot(project)
  }

  const store: AnonKeyStore = {
    namespace,
    async load (project) {
      return snapshot(project)
    },
    async update (project, change) {
      const before = snapshot(project)
      const step = change(before.state)
      if (!('next' in step)) return { snapshot: before, result: step.result }
      if (step.retire !== undefined) retired.set(project, keepRetired(retired.get(project) ?? [], structuredClone(step.retire)))
      return { snapshot: write(project, before.version + 1, step.next, step.announce !== false), result: step.result }
    },
    async loadRetired (project) {
      return structuredClone(retired.get(project) ?? [])
    },
    async recordUsage (project, { keepHoursFrom, keepKeysFrom, ...batch }) {
      usage.set(project, trimUsage(mergeUsage(usage.get(project) ?? emptyHistory(), structuredClone(batch)), keepHoursFrom, keepKeysFrom))
    },
    async loadUsage (project) {
      return structuredClone(usage.get(project) ?? emptyHistory())
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
  return markStore(store, 'memory')
}

import { DEFAULT_KEY_NAME, SINGLE_PROJECT } from '../domain/names.js'
import { keySnapshot, type KeySnapshot, type PreviousKeyRecord, type RetiredKeyRecord } from '../domain/project.js'
import { initializeProject, isRefusal, recordUsage, revokePrevious, rotateKey } from '../domain/transitions.js'
import type { UsageReport } from '../domain/usage.js'
import type { AnonKeyStore } from '../stores/interface.js'

/**
 * One project's `default` key on a store, with the operations of the seed (release 0.1's store interface),
 * each made of `store.update` and a domain transition. The suite's cases for one key use it, so that every
 * 0.1 case holds the new interface to the same behaviour.
 */
export interface KeyHandle {
  readonly store: AnonKeyStore
  readonly project: string
  load (): Promise<KeySnapshot>
  /** The project's retired keys (store.loadRetired), newest retirement first. */
  retired (): Promise<RetiredKeyRecord[]>
  /** Creates `default` with `key` if the project has none. Resolves to the key's state afterwards, whoever won. */
  initialize (key: string, now?: number): Promise<KeySnapshot>
  /** Resolves to null when the project has no `default` key. */
  rotate (change: { newKey: string, now: number, expiresAt: number, maxPreviousKeys?: number }): Promise<Rotated | null>
  revoke (change: { now: number, fingerprint?: string }): Promise<{ snapshot: KeySnapshot, revoked: PreviousKeyRecord[] }>
  recordUsage (reports: UsageReport[]): Promise<number>
}

/** A rotation that happened: the key's state after it, the record of the key retired, the keys capped. */
export interface Rotated {
  snapshot: KeySnapshot
  retired: PreviousKeyRecord
  capped: PreviousKeyRecord[]
}

export function keyHandle (store: AnonKeyStore, project = SINGLE_PROJECT): KeyHandle {
  const view = (snapshot: { version: number, state: Parameters<typeof keySnapshot>[1] }): KeySnapshot => keySnapshot(snapshot.version, snapshot.state)
  return {
    store,
    project,
    async load () {
      return view(await store.load(project))
    },
    retired () {
      return store.loadRetired(project)
    },
    async initialize (key, now = Date.now()) {
      return view((await store.update(project, (state) => initializeProject(state, { key, now }))).snapshot)
    },
    async rotate (change) {
      const { snapshot, result } = await store.update(project, (state) => rotateKey(state, { name: DEFAULT_KEY_NAME, ...change }))
      if (isRefusal(result)) return null
      return { snapshot: view(snapshot), retired: result.retired, capped: result.capped }
    },
    async revoke (change) {
      const { snapshot, result } = await store.update(project, (state) => revokePrevious(state, { name: DEFAULT_KEY_NAME, ...change }))
      return { snapshot: view(snapshot), revoked: isRefusal(result) ? [] : result.revoked }
    },
    async recordUsage (reports) {
      return (await store.update(project, (state) => recordUsage(state, reports))).result.recorded
    }
  }
}

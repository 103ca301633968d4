import type { ProjectState, RetiredKeyRecord } from '../domain/project.js'
import type { StateChange } from '../domain/transitions.js'
import type { UsageBatch, UsageHistory } from '../domain/usage-history.js'

/** A project's document and its version: version 0 and an empty project when it was never written. */
export interface ProjectSnapshot {
  version: number
  state: ProjectState
}

/**
 * The storage adapter interface. Every store (memory, PostgreSQL, Redis, or your own) implements exactly this:
 * a small transactional document store that keeps one project document per (namespace, project). Every rule
 * (rotate, revoke, names, retention, usage, migration) is a pure function of `fastify-anon-key/store`; a store
 * only reads, applies and writes atomically, and announces.
 *
 * A project is a tenant id (`[A-Za-z0-9._-]{1,64}`), or SINGLE_PROJECT (`''`) for a plugin without tenants.
 *
 * Beside the document, a store keeps each project's retired keys: records of keys that stopped verifying
 * (expired, revoked, of a deleted name), digests only, which a change hands over in `retire` and nobody reads
 * until a presented key is unknown to the document. They live apart so that a write costs the same whatever a
 * project's history: the document holds only keys that verify, and the retired keys are appended to, never
 * rewritten whole (a table with an index, a sorted set).
 *
 * Rules every implementation follows (the conformance suite in `fastify-anon-key/testing` checks them):
 * - `update` is atomic per project: concurrent updates from any number of processes serialize, none is lost
 *   and none fails for contention. Projects never see each other's documents.
 * - `version` grows by one on every write, so a reader can tell a newer snapshot from an older one.
 * - Every write with `announce` (the default) reaches every `subscribe` listener, in this process and in every
 *   other process that shares the backend, with the project's id. A write with `announce: false` (usage
 *   figures) is not announced.
 * - A previous key is never written whole: the document holds it only as a digest, and a store writes the
 *   document it is given.
 * - Times are milliseconds since the epoch, always supplied by the caller, never read from the backend.
 * - A namespace written by release 0.1 loads as the `default` key of SINGLE_PROJECT (see `fromLegacy`), and
 *   is written in the new form on the first update.
 */
export interface AnonKeyStore {
  /** Separates apps that share one backend. Two stores with different namespaces never see each other. */
  readonly namespace: string
  /** The project's document as it is now. */
  load (project: string): Promise<ProjectSnapshot>
  /**
   * Atomically: reads the project's document, calls `change(state)` (pure and synchronous; an optimistic store
   * may call it more than once, on a newer state each time), writes `next` if it is given with version + 1,
   * appends `retire.records` to the project's retired keys and forgets those retired at or before
   * `retire.keepAfter` or beyond the RETIRED_RECORD_LIMIT newest (`keepRetired` says exactly what remains),
   * and announces the project to every subscriber in every process unless `announce` is false. All of it
   * lands, or none. Resolves to the snapshot after it (the one read, when nothing was written) and the result
   * of the last call.
   */
  update<T> (project: string, change: (state: ProjectState) => StateChange<T>): Promise<{ snapshot: ProjectSnapshot, result: T }>
  /**
   * The project's retired keys, newest retirement first (the greater digest first among equal times), at most
   * RETIRED_RECORD_LIMIT; an empty array for a project that has none. The plugin calls it only when a
   * well-formed key is unknown to the document, once per version of the project at most.
   */
  loadRetired (project: string): Promise<RetiredKeyRecord[]>
  /**
   * Calls `listener(project, change)` after every announced change of any project of this namespace, from any
   * process. `change`, when the store can tell it, is the version and revision the write gave the document: an
   * instance that holds them already (the writer) then reloads nothing.
   * `listener(null)` means that changes may have been missed (the listening connection was lost and is back):
   * every project you hold may be stale (the plugin reloads each on its next use). Resolves to a function that
   * stops the calls.
   * A store that shares a backend with other processes also polls it (every `catchUpMs`, one small query
   * whatever the number of projects) and calls `listener(project)` for a change whose notification was lost,
   * so that no change goes unheard for longer than about that; and calls `options.onPoll()` after each poll that
   * succeeded.
   * `options.log` is the host's logger (the plugin passes `app.log`): where a store reports what no call can,
   * a listening connection that hears nothing or a poll that fails. A store may ignore it.
   * `options.deadline` is aborted when the plugin stops waiting (`storeTimeoutMs`): a store still connecting may
   * then reject with why (the last connection error), which start-up names. A store may ignore it.
   */
  subscribe (listener: ChangeListener, options?: SubscribeOptions): Promise<() => Promise<void>>
  /** Releases what the store opened itself (a listening connection, timers). Never closes a client it was given. */
  close (): Promise<void>
  /**
   * Optional, with `loadUsage`: the project's usage history, kept apart from its document (which never grows with
   * it). Atomically: adds the batch's counts to the rows of the same hour and key (and code, for refusals), keeps
   * the latest `lastUsedAt` and adds `previousRequests` per key, then forgets the hours before
   * `batch.keepHoursFrom` and the keys last used before `batch.keepKeysFrom` (see `mergeUsage` and `trimUsage`).
   * Concurrent batches from any number of processes all land, none twice. Not announced: it changes no key.
   * A store without it keeps the previous keys' totals in the document instead (`recordUsage` transition), and
   * the usage routes answer that the store keeps no history.
   */
  recordUsage? (project: string, batch: UsageBatch): Promise<void>
  /** Optional, with `recordUsage`: the project's usage history as kept (empty arrays for none). */
  loadUsage? (project: string): Promise<UsageHistory>
}

/** What a notification may tell of the write it announces. */
export interface HeardChange {
  version: number
  /** The document's `revision` after the write. */
  revision?: string
}

export type ChangeListener = (project: string | null, change?: HeardChange) => void

export interface SubscribeOptions {
  log?: StoreLog
  deadline?: AbortSignal
  /**
   * A store that polls for missed changes calls it after each poll that succeeded. While polls succeed, the plugin
   * reloads a cached project only for a change; without these calls (a store that does not poll, a poll that
   * fails), it reloads every cached project on its next use after `cacheTtlMs`.
   */
  onPoll?: () => void
}

/** The part of a logger (pino's, `app.log`) a store writes to. */
export interface StoreLog {
  error (details: object, message: string): void
  info (message: string): void
}

export type { StateChange } from '../domain/transitions.js'
export type { RetireKeys } from '../domain/retention.js'
export type { KeyHourCount, KeyLastUse, RefusedHourCount, RefusedUsageCode, UsageBatch, UsageHistory } from '../domain/usage-history.js'

import type { UsageReport } from '../usage-counter.js'

/**
 * The storage adapter interface. Every store (memory, PostgreSQL, Redis, or your own) implements exactly this.
 *
 * Rules every implementation follows (the conformance suite in `fastify-anon-key/testing` checks them):
 * - `initialize`, `rotate` and `revoke` are atomic. Concurrent calls from any number of processes serialize:
 *   N concurrent rotations produce N previous-key records and exactly one current key, and none fails.
 * - The current key is stored so that `load()` can return it. A previous key is stored only as its SHA-256
 *   digest (`PreviousKeyRecord.digest`); the plain key is never written anywhere once it stops being current.
 * - `version` grows by at least one on every change, so a reader can tell a newer snapshot from an older one.
 * - Every change is announced to every `subscribe` listener, in this process and in every other process that
 *   shares the backend, as soon as the backend can deliver it.
 * - Records are pruned with `pruneRetired` (see retention.ts): a key that stopped verifying is remembered for
 *   `RETIRED_RETENTION_MS`, and at most `RETIRED_RECORD_LIMIT` of them.
 * - Times are milliseconds since the epoch, always supplied by the caller (the plugin's clock), never read
 *   from the backend's clock, so that all instances agree on the instant a grace period ends.
 */
export interface AnonKeyStore {
  /** Separates apps that share one backend. Two stores with different namespaces never see each other. */
  readonly namespace: string
  /** The whole current state. */
  load (): Promise<AnonKeySnapshot>
  /** Stores `key` as the current key if the store holds none. Resolves to the state afterwards, whoever won. */
  initialize (key: string): Promise<AnonKeySnapshot>
  /** Makes `change.newKey` current and the old current key a previous key. Resolves to null if no key exists. */
  rotate (change: RotateChange): Promise<RotateOutcome | null>
  /** Revokes one previous key (by fingerprint) or all of them, when they still verify at `change.now`. */
  revoke (change: RevokeChange): Promise<RevokeOutcome>
  /** Calls `listener` after every change, from any process. Resolves to a function that stops the calls. */
  subscribe (listener: () => void): Promise<() => Promise<void>>
  /**
   * Optional. Adds request counts that one instance saw for previous keys (batched, never one call per request),
   * so that `load()` returns them summed over every instance in `PreviousKeyRecord.requests` / `lastSeenAt`.
   * Reports for a digest the store no longer holds are dropped. Without it, each instance lists its own counts.
   */
  recordUsage? (reports: UsageReport[]): Promise<void>
  /** Releases what the store opened itself (a listening connection, timers). Never closes a client it was given. */
  close (): Promise<void>
}

export interface PreviousKeyRecord {
  /** SHA-256 of the key, 64 lowercase hex characters. */
  digest: string
  /** When it stopped being the current key. */
  rotatedAt: number
  /** When its grace period ends: it verifies while `now < expiresAt`. */
  expiresAt: number
  /** When it was revoked early, or null. */
  revokedAt: number | null
  /** Requests that carried this key since its rotation, summed over instances (stores with recordUsage). */
  requests?: number
  /** The last time such a request was seen, or null. */
  lastSeenAt?: number | null
}

export interface AnonKeySnapshot {
  version: number
  currentKey: string | null
  /** Every previous key still on record: valid ones, and retired ones within the retention window. */
  previousKeys: PreviousKeyRecord[]
}

export interface RotateChange {
  newKey: string
  /** The instant of the rotation: the old key's `rotatedAt`. */
  now: number
  /** The old key's `expiresAt` (equal to `now` for a grace period of 0). */
  expiresAt: number
  /**
   * Most previous keys that may verify after this rotation (the plugin's `maxPreviousKeys`, default 100). The
   * oldest valid ones beyond it are revoked at `now`; rotateState does it.
   */
  maxPreviousKeys?: number
}

export interface RotateOutcome {
  snapshot: AnonKeySnapshot
  /** The record made for the key that was current until now. */
  retired: PreviousKeyRecord
  /** Valid previous keys this rotation revoked to stay within `maxPreviousKeys` (absent means none). */
  evicted?: PreviousKeyRecord[]
}

export interface RevokeChange {
  now: number
  /** Revoke only the previous key whose digest starts with this fingerprint; all previous keys when absent. */
  fingerprint?: string
}

export interface RevokeOutcome {
  snapshot: AnonKeySnapshot
  /** The records that were valid and are revoked now (empty when none matched). */
  revoked: PreviousKeyRecord[]
}

import { digestOf } from './key.js'
import { DEFAULT_KEY_NAME, isKeyName, KEY_NAME_PATTERN } from './names.js'
import { findKey, type NamedKey, type PreviousKeyRecord, type ProjectState, type RetiredKeyRecord } from './project.js'
import { capPreviousKeys } from './previous-key-cap.js'
import type { KeySettings } from './key-settings.js'
import { isStillValid, pruneProject, RETIRED_RETENTION_MS, type RetireKeys } from './retention.js'
import type { UsageReport } from './usage.js'
import { fixFirstUseGraces } from './first-use.js'

/**
 * The rules of every change to a project, as pure functions: `(state, change) => StateChange`. A store runs one
 * inside its atomic section on the state it holds, writes `next` back and appends `retire` to the project's
 * retired keys; the plugin and scripts decide nothing else. Times always come from the caller, never from a
 * backend's clock.
 */
export type StateChange<T> =
  | { result: T }
  /**
   * `announce` defaults to true; false for a write that changes no key (usage figures). `retire`: the keys that
   * stopped verifying and left the document in this change (maybe none), and which retired keys to forget.
   */
  | { result: T, next: ProjectState, announce?: boolean, retire?: RetireKeys }

/** Why a change was refused. Nothing is written. */
export interface Refusal {
  refused: 'NOT_FOUND' | 'CONFLICT' | 'INVALID_INPUT'
  message: string
}

export function isRefusal (result: unknown): result is Refusal {
  return typeof result === 'object' && result !== null && 'refused' in result
}

function refuse (refused: Refusal['refused'], message: string): { result: Refusal } {
  return { result: { refused, message } }
}

export interface InitializeChange {
  /** The key `default` gets when the project has none. */
  key: string
  now: number
}

/** Creates `default` with `change.key` when the project has no `default`; otherwise changes nothing. */
export function initializeProject (state: ProjectState, change: InitializeChange): StateChange<{ created: boolean, key: NamedKey } | Refusal> {
  const existing = findKey(state, DEFAULT_KEY_NAME)
  if (existing !== undefined) return { result: { created: false, key: existing } }
  if (keyInUse(state, change.key)) return refuse('CONFLICT', 'The initial key is already used in this project.')
  const key = newKey(DEFAULT_KEY_NAME, change.key, change.now, '', null)
  return written(withKey(state, key), change.now, () => ({ created: true, key }))
}

export interface RotateKeyChange {
  name: string
  newKey: string
  /** The instant of the rotation: the old key's `rotatedAt`. */
  now: number
  /**
   * The old key's `expiresAt` (equal to `now` for a grace period of 0); with `graceMs`, the latest it may verify
   * (rotation + maxGracePeriodHours).
   */
  expiresAt: number
  /** A grace from the new key's first use: this long after it, never after `expiresAt`. Absent: from the rotation. */
  graceMs?: number
  /** At most this many previous keys of the name verify at once; the oldest are revoked to make room. */
  maxPreviousKeys?: number
}

export interface RotateKeyResult {
  /** The named key after the rotation. */
  key: NamedKey
  /** The record made for the key that was current until now. */
  retired: PreviousKeyRecord
  /** Valid previous keys revoked to keep within maxPreviousKeys, oldest first. */
  capped: PreviousKeyRecord[]
}

/**
 * Makes `newKey` current for the name and the old current key a previous key with its own expiry. A rotation
 * is never refused for the number of previous keys (a leaked key must always be rotatable): beyond
 * `maxPreviousKeys` valid ones, the oldest are revoked now, and the result names them.
 */
export function rotateKey (state: ProjectState, change: RotateKeyChange): StateChange<RotateKeyResult | Refusal> {
  const key = findKey(state, change.name)
  if (key === undefined) return refuse('NOT_FOUND', `No anon key is named "${change.name}".`)
  if (keyInUse(state, change.newKey)) return refuse('CONFLICT', 'The new key is already used in this project.')
  const retired: PreviousKeyRecord = { digest: digestOf(key.currentKey), rotatedAt: change.now, expiresAt: change.expiresAt, revokedAt: null }
  if (change.graceMs !== undefined) Object.assign(retired, { graceStartsAt: 'first-use', graceMs: change.graceMs })
  // Records are newest first, so among rotations of the same millisecond the later one in the list is the older.
  const { records, evicted } = capPreviousKeys([retired, ...fixFirstUseGraces(key, change.now)], change.now, change.maxPreviousKeys ?? Infinity)
  const capped = evicted.reverse().sort((a, b) => a.rotatedAt - b.rotatedAt)
  const rotated = withKey(state, { ...key, currentKey: change.newKey, previousKeys: records, currentKeyFirstUsedAt: null })
  return written(rotated, change.now, (next) => ({ key: findKey(next, change.name) as NamedKey, retired, capped }))
}

export interface RevokePreviousChange {
  name: string
  now: number
  /** Only the previous key whose digest starts with this fingerprint; every previous key when absent. */
  fingerprint?: string
}

export interface RevokePreviousResult {
  key: NamedKey
  /** The records that were valid and are revoked now (empty when none matched: nothing is written then). */
  revoked: PreviousKeyRecord[]
}

/** Revokes one previous key of the name (by fingerprint) or all of them, when they still verify at `now`. */
export function revokePrevious (state: ProjectState, change: RevokePreviousChange): StateChange<RevokePreviousResult | Refusal> {
  const key = findKey(state, change.name)
  if (key === undefined) return refuse('NOT_FOUND', `No anon key is named "${change.name}".`)
  const revoked: PreviousKeyRecord[] = []
  const previousKeys = key.previousKeys.map((record) => {
    if (!isStillValid(record, change.now)) return record
    if (change.fingerprint !== undefined && !record.digest.startsWith(change.fingerprint)) return record
    const revokedRecord = { ...record, revokedAt: change.now }
    revoked.push(revokedRecord)
    return revokedRecord
  })
  if (revoked.length === 0) return { result: { key, revoked } }
  return written(withKey(state, { ...key, previousKeys }), change.now, (next) => ({ key: findKey(next, change.name) as NamedKey, revoked }))
}

export interface CreateKeyChange {
  name: string
  key: string
  now: number
  description?: string
  allowedOrigins?: string[] | null
  /** Apps, attestation, rate limit: off when left out. */
  settings?: KeySettings
  /** The most names a project may hold. */
  maxKeys: number
}

/** Adds a named key. Refused when the name exists or the project already holds `maxKeys` names. */
export function createKey (state: ProjectState, change: CreateKeyChange): StateChange<{ key: NamedKey } | Refusal> {
  if (!isKeyName(change.name)) return refuse('INVALID_INPUT', `A key name matches ${String(KEY_NAME_PATTERN)}, got ${JSON.stringify(change.name)}.`)
  if (findKey(state, change.name) !== undefined) return refuse('CONFLICT', `An anon key named "${change.name}" already exists.`)
  if (state.keys.length >= change.maxKeys) return refuse('CONFLICT', `This project already holds ${change.maxKeys} named keys, the most maxKeys allows.`)
  if (keyInUse(state, change.key)) return refuse('CONFLICT', 'The new key is already used in this project.')
  const key = { ...newKey(change.name, change.key, change.now, change.description ?? '', change.allowedOrigins ?? null), ...change.settings }
  return written(withKey(state, key), change.now, () => ({ key }))
}

export interface UpdateKeyChange {
  name: string
  description?: string
  /** null lifts the restriction; absent leaves it as it is. */
  allowedOrigins?: string[] | null
  /** The settings named change; the others stay as they are. */
  settings?: KeySettings
}

/** Changes a named key's description or allowed origins; its keys stay as they are. */
export function updateKey (state: ProjectState, change: UpdateKeyChange): StateChange<{ key: NamedKey } | Refusal> {
  const key = findKey(state, change.name)
  if (key === undefined) return refuse('NOT_FOUND', `No anon key is named "${change.name}".`)
  const updated: NamedKey = {
    ...key,
    description: change.description ?? key.description,
    allowedOrigins: change.allowedOrigins === undefined ? key.allowedOrigins : change.allowedOrigins,
    ...change.settings
  }
  return { result: { key: updated }, next: withKey(state, updated) }
}

export interface DeleteKeyChange {
  name: string
  now: number
}

export interface DeleteKeyResult {
  deleted: NamedKey
  /** The keys of the name that verified until now (its current key first), revoked now. */
  revoked: RetiredKeyRecord[]
}

/**
 * Removes a name. Its current key and its valid previous keys are revoked now and go, with the name, to the
 * project's retired keys, so that they answer ANON_KEY_REVOKED for the retention period. `default` stays.
 */
export function deleteKey (state: ProjectState, change: DeleteKeyChange): StateChange<DeleteKeyResult | Refusal> {
  if (change.name === DEFAULT_KEY_NAME) return refuse('CONFLICT', 'The key named "default" cannot be deleted; rotate it instead.')
  const key = findKey(state, change.name)
  if (key === undefined) return refuse('NOT_FOUND', `No anon key is named "${change.name}".`)
  const { now, name } = change
  const revoked: RetiredKeyRecord[] = [{ name, digest: digestOf(key.currentKey), rotatedAt: now, expiresAt: now, revokedAt: now }]
  const retired: RetiredKeyRecord[] = []
  for (const record of key.previousKeys) {
    if (isStillValid(record, now)) revoked.push({ ...record, name, revokedAt: now })
    else retired.push({ ...record, name })
  }
  const remaining = { keys: state.keys.filter((candidate) => candidate !== key), deletedKeys: [...revoked, ...retired, ...(state.deletedKeys ?? [])] }
  return written(remaining, now, () => ({ deleted: key, revoked }))
}

/**
 * Adds the request counts instances reported for previous keys of any name. Reports for a digest the project
 * no longer holds are dropped. Not a change of keys: written without an announcement, and not at all when
 * nothing landed.
 */
export function recordUsage (state: ProjectState, reports: readonly UsageReport[]): StateChange<{ recorded: number }> {
  const byDigest = new Map<string, UsageReport>()
  for (const report of reports) {
    const seen = byDigest.get(report.digest)
    byDigest.set(report.digest, seen === undefined
      ? report
      : { digest: report.digest, requests: seen.requests + report.requests, lastSeenAt: Math.max(seen.lastSeenAt, report.lastSeenAt) })
  }
  let recorded = 0
  const keys = state.keys.map((key): NamedKey => {
    if (!key.previousKeys.some((record) => byDigest.has(record.digest))) return key
    const previousKeys = key.previousKeys.map((record) => {
      const report = byDigest.get(record.digest)
      if (report === undefined) return record
      recorded += 1
      return { ...record, requests: (record.requests ?? 0) + report.requests, lastSeenAt: Math.max(record.lastSeenAt ?? 0, report.lastSeenAt) }
    })
    return { ...key, previousKeys }
  })
  if (recorded === 0) return { result: { recorded } }
  return { result: { recorded }, next: { ...state, keys }, announce: false }
}

/**
 * Whether `key` is, or was, a key of this document: a key string never appears twice in a project. The retired
 * keys are not in the document, and need not be: a random key never repeats, and the one key a caller chooses
 * (initialKey) only goes into a project without `default`, which never retired a key (`default` cannot be deleted).
 */
function keyInUse (state: ProjectState, key: string): boolean {
  const digest = digestOf(key)
  return state.keys.some((named) => named.currentKey === key || named.previousKeys.some((record) => record.digest === digest)) ||
    (state.deletedKeys ?? []).some((record) => record.digest === digest)
}

/**
 * The write of a change: the document pruned at `now`, the result made from it, and what leaves it for the
 * retired keys, with the instant up to which retired keys are forgotten (given even when nothing leaves, so
 * that the store forgets on every change of keys, not only on the next retirement).
 */
function written<T> (state: ProjectState, now: number, result: (next: ProjectState) => T): StateChange<T> {
  const { state: next, retired } = pruneProject(state, now)
  next.changedAt = now
  return { result: result(next), next, retire: { records: retired, keepAfter: now - RETIRED_RETENTION_MS } }
}

function newKey (name: string, currentKey: string, createdAt: number, description: string, allowedOrigins: string[] | null): NamedKey {
  return { name, currentKey, previousKeys: [], description, allowedOrigins, createdAt }
}

/** The state with `key` in place of the key of the same name (or added), names kept sorted. */
function withKey (state: ProjectState, key: NamedKey): ProjectState {
  const keys = state.keys.filter((candidate) => candidate.name !== key.name)
  keys.push(key)
  keys.sort((a, b) => (a.name < b.name ? -1 : 1)) // names are unique in a project
  return { ...state, keys }
}

import type { AllowedApps } from './apps.js'
import { DEFAULT_KEY_NAME } from './names.js'
import type { RateLimit } from './rate-limit.js'

/** A key that stopped being current. Kept only as its SHA-256 digest: it can be verified, never read back. */
export interface PreviousKeyRecord {
  /** SHA-256 of the key, 64 lowercase hex characters. */
  digest: string
  /** When it stopped being the current key. */
  rotatedAt: number
  /** When its grace period ends: it verifies while `now < expiresAt`. */
  expiresAt: number
  /** When it was revoked early, or null. */
  revokedAt: number | null
  /** Requests that carried this key since its rotation, summed over every instance's reports. */
  requests?: number
  /** The last time such a request was reported, or null. */
  lastSeenAt?: number | null
  /** When its grace began: at the rotation (absent means so), or at the first use of the key that replaced it. */
  graceStartsAt?: 'rotation' | 'first-use'
  /**
   * With 'first-use', while the key that replaced it is current: the grace that starts at that key's first use.
   * `expiresAt` is then the latest the key can verify (rotation + maxGracePeriodHours); see effectiveExpiry.
   */
  graceMs?: number
}

/**
 * A key that stopped verifying (expired, revoked, or of a deleted name), with the name it had. Kept out of the
 * project document, in the store's retired keys, for the retention period, so that it answers ANON_KEY_EXPIRED
 * or ANON_KEY_REVOKED instead of AUTH_INVALID_CREDENTIALS.
 */
export interface RetiredKeyRecord extends PreviousKeyRecord {
  name: string
}

/** One named key of a project, with the whole life of a key: a current key and its previous keys. */
export interface NamedKey {
  name: string
  /** The current key, whole: admins read it back. */
  currentKey: string
  /**
   * Previous keys that verified when the document was last written, newest rotation first (at most
   * maxPreviousKeys). One whose grace has ended since stays until the next write moves it to the retired keys.
   * A document written before retired keys moved out of it holds them here too, after the valid ones.
   */
  previousKeys: PreviousKeyRecord[]
  description: string
  /** Normalised origins allowed to use the key, or null for no restriction. */
  allowedOrigins: string[] | null
  /** Apps allowed to use the key (normalised), or null or absent for no restriction. */
  allowedApps?: AllowedApps | null
  /** Whether a request with the key needs a valid attestation token; absent is false. */
  requireAttestation?: boolean
  /** The key's own rate limit, or null or absent for the defaults of anonKeyRateLimit. */
  rateLimit?: RateLimit | null
  createdAt: number
  /** When the current key was first verified by any instance; null for a rotated-in key not used yet (absent: not tracked). */
  currentKeyFirstUsedAt?: number | null
}

/** Everything a store keeps for one project (a tenant, or the single project), as one document. */
export interface ProjectState {
  /** Sorted by name; empty means not initialized. `default` is made by initializeProject. */
  keys: NamedKey[]
  /** A random id given by every write (see revision.ts); absent in documents written by 0.2. */
  revision?: string
  /**
   * Only in a document written before retired keys moved out of it (never released): the keys of deleted
   * names. It is read as it is, and the next write moves them to the retired keys.
   */
  deletedKeys?: RetiredKeyRecord[]
  /** When the last change of keys was written (the writer's clock), for the propagation delay other instances measure. */
  changedAt?: number
}

export function emptyProject (): ProjectState {
  return { keys: [] }
}

export function findKey (state: ProjectState, name: string): NamedKey | undefined {
  return state.keys.find((key) => key.name === name)
}

/**
 * The single key of release 0.1, as each of its stores held it: the current key (null when none) and the
 * previous keys, usage figures included when the store kept them.
 */
export interface LegacyKeyState {
  currentKey: string | null
  previousKeys: PreviousKeyRecord[]
}

/**
 * A 0.1 state as a project document: its key becomes the `default` key, with every previous record as it was.
 * 0.1 did not record when the key was made; the newest rotation is when it became current, else `now`.
 */
export function fromLegacy (legacy: LegacyKeyState, now: number): ProjectState {
  if (legacy.currentKey === null) return emptyProject()
  const previousKeys = legacy.previousKeys.map((record) => ({ ...record }))
  const createdAt = previousKeys.reduce((newest, record) => Math.max(newest, record.rotatedAt), -Infinity)
  return {
    keys: [{
      name: DEFAULT_KEY_NAME,
      currentKey: legacy.currentKey,
      previousKeys,
      description: '',
      allowedOrigins: null,
      createdAt: Number.isFinite(createdAt) ? createdAt : now
    }]
  }
}

/** One key of a project as the seed's single-key view: its current key (null when the name does not exist). */
export interface KeySnapshot {
  version: number
  currentKey: string | null
  previousKeys: PreviousKeyRecord[]
}

/** The view of one name of a project document, at a version. */
export function keySnapshot (version: number, state: ProjectState, name = DEFAULT_KEY_NAME): KeySnapshot {
  const key = findKey(state, name)
  return { version, currentKey: key?.currentKey ?? null, previousKeys: key?.previousKeys ?? [] }
}

import { DEFAULT_KEY_NAME } from './names.js'

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
}

/** A key of a deleted name: revoked, remembered for the retention period so that it answers ANON_KEY_REVOKED. */
export interface DeletedKeyRecord extends PreviousKeyRecord {
  name: string
}

/** One named key of a project, with the whole life of a key: a current key and its previous keys. */
export interface NamedKey {
  name: string
  /** The current key, whole: admins read it back. */
  currentKey: string
  /** Valid previous keys first (newest rotation first), then retired ones within retention (newest first). */
  previousKeys: PreviousKeyRecord[]
  description: string
  /** Normalised origins allowed to use the key, or null for no restriction. */
  allowedOrigins: string[] | null
  createdAt: number
}

/** Everything a store keeps for one project (a tenant, or the single project), as one document. */
export interface ProjectState {
  /** Sorted by name; empty means not initialized. `default` is made by initializeProject. */
  keys: NamedKey[]
  /** Keys of deleted names (current and previous ones), revoked, within retention. */
  deletedKeys: DeletedKeyRecord[]
}

export function emptyProject (): ProjectState {
  return { keys: [], deletedKeys: [] }
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
    }],
    deletedKeys: []
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

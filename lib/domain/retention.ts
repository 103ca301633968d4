import type { NamedKey, PreviousKeyRecord, ProjectState } from './project.js'

/** How long a key that stopped verifying is still recognised (ANON_KEY_EXPIRED / ANON_KEY_REVOKED). */
export const RETIRED_RETENTION_MS = 30 * 24 * 60 * 60 * 1000

/** How many retired keys a project remembers at most; older ones answer plain AUTH_INVALID_CREDENTIALS. */
export const RETIRED_RECORD_LIMIT = 1000

/** The instant a record stopped verifying. */
export function retiredAt (record: PreviousKeyRecord): number {
  return record.revokedAt ?? record.expiresAt
}

export function isStillValid (record: PreviousKeyRecord, now: number): boolean {
  return record.revokedAt === null && now < record.expiresAt
}

/**
 * Keeps every previous key that still verifies, and of the others the most recent RETIRED_RECORD_LIMIT that
 * stopped verifying less than RETIRED_RETENTION_MS ago. Order: valid keys first, newest rotation first.
 */
export function pruneRetired (records: readonly PreviousKeyRecord[], now: number): PreviousKeyRecord[] {
  const valid: PreviousKeyRecord[] = []
  const retired: PreviousKeyRecord[] = []
  for (const record of records) {
    if (isStillValid(record, now)) valid.push(record)
    else if (now - retiredAt(record) < RETIRED_RETENTION_MS) retired.push(record)
  }
  valid.sort(byNewestRotation)
  return valid.concat(newestRetired(retired))
}

/**
 * pruneRetired over a whole project: the retention window and the record limit apply to the retired records
 * of every name and of deleted names together, so that a project document stays bounded however many names
 * it has. Each name keeps its valid previous keys first, newest rotation first, then its retired ones.
 */
export function pruneProject (state: ProjectState, now: number): ProjectState {
  const retired: PreviousKeyRecord[] = []
  for (const key of state.keys) {
    for (const record of key.previousKeys) if (!isStillValid(record, now)) retired.push(record)
  }
  retired.push(...state.deletedKeys)
  const kept = new Set(newestRetired(retired.filter((record) => now - retiredAt(record) < RETIRED_RETENTION_MS)))
  const keys = state.keys.map((key): NamedKey => {
    const valid = key.previousKeys.filter((record) => isStillValid(record, now)).sort(byNewestRotation)
    const remembered = key.previousKeys.filter((record) => kept.has(record)).sort(byNewestRetirement)
    return { ...key, previousKeys: valid.concat(remembered) }
  })
  const deletedKeys = state.deletedKeys.filter((record) => kept.has(record)).sort(byNewestRetirement)
  return { keys, deletedKeys }
}

function newestRetired (records: PreviousKeyRecord[]): PreviousKeyRecord[] {
  return records.sort(byNewestRetirement).slice(0, RETIRED_RECORD_LIMIT)
}

function byNewestRotation (a: PreviousKeyRecord, b: PreviousKeyRecord): number {
  return b.rotatedAt - a.rotatedAt
}

function byNewestRetirement (a: PreviousKeyRecord, b: PreviousKeyRecord): number {
  return retiredAt(b) - retiredAt(a)
}

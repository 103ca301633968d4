import type { NamedKey, PreviousKeyRecord, ProjectState, RetiredKeyRecord } from './project.js'

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

/** A project document ready to write, and the records that leave it for the store's retired keys. */
export interface PrunedProject {
  state: ProjectState
  /** Records that stopped verifying, within retention, newest retirement first (at most RETIRED_RECORD_LIMIT). */
  retired: RetiredKeyRecord[]
}

/**
 * Splits a project before it is written: each name keeps the previous keys that still verify at `now`, newest
 * rotation first; every other record (expired, revoked, of a deleted name) that is within retention leaves the
 * document for the retired keys. So the document stays as small as the keys that verify, whatever the history.
 */
export function pruneProject (state: ProjectState, now: number): PrunedProject {
  const retired: RetiredKeyRecord[] = []
  const keys = state.keys.map((key): NamedKey => {
    const valid: PreviousKeyRecord[] = []
    for (const record of key.previousKeys) {
      if (isStillValid(record, now)) valid.push(record)
      else retired.push(retiredRecord(key.name, record))
    }
    return { ...key, previousKeys: valid.sort(byNewestRotation) }
  })
  for (const record of state.deletedKeys ?? []) retired.push(retiredRecord(record.name, record))
  return { state: { keys }, retired: newestRetired(retired.filter((record) => now - retiredAt(record) < RETIRED_RETENTION_MS)) }
}

/** What a store appends to a project's retired keys, and forgets of them, in the same atomic write as the document. */
export interface RetireKeys {
  /** May be empty: the store still forgets what `keepAfter` says. */
  records: RetiredKeyRecord[]
  /** Only records retired after this instant are kept (the change's time minus RETIRED_RETENTION_MS). */
  keepAfter: number
}

/**
 * A project's retired keys after `retire` is appended to `held` (as keepRetired or loadRetired gave them:
 * newest retirement first): those retired after `keepAfter`, at most RETIRED_RECORD_LIMIT, newest retirement
 * first. What every store keeps; a store that holds the records in
 * memory can use it as it is.
 */
export function keepRetired (held: readonly RetiredKeyRecord[], retire: RetireKeys): RetiredKeyRecord[] {
  const added = [...retire.records].sort(byNewestRetirement)
  const merged = added.concat(held)
  // Keys usually retire in order, newer than every one held: then the list is sorted already, and a rotation
  // costs the same at 1,000 retired keys as at none (no sort of the whole list).
  if (added.length > 0 && held.length > 0 && byNewestRetirement(added[added.length - 1], held[0]) > 0) merged.sort(byNewestRetirement)
  let end = Math.min(merged.length, RETIRED_RECORD_LIMIT)
  while (end > 0 && retiredAt(merged[end - 1]) <= retire.keepAfter) end--
  return merged.slice(0, end)
}

/** The record kept of a key that stopped verifying: its digest and times, without its usage figures. */
function retiredRecord (name: string, { digest, rotatedAt, expiresAt, revokedAt }: PreviousKeyRecord): RetiredKeyRecord {
  return { name, digest, rotatedAt, expiresAt, revokedAt }
}

function newestRetired<R extends PreviousKeyRecord> (records: R[]): R[] {
  return records.sort(byNewestRetirement).slice(0, RETIRED_RECORD_LIMIT)
}

function byNewestRotation (a: PreviousKeyRecord, b: PreviousKeyRecord): number {
  return b.rotatedAt - a.rotatedAt
}

/** Newest retirement first; among records retired in the same millisecond, the greater digest first (as stores sort). */
function byNewestRetirement (a: PreviousKeyRecord, b: PreviousKeyRecord): number {
  return retiredAt(b) - retiredAt(a) || (a.digest < b.digest ? 1 : -1)
}

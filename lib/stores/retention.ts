import type { PreviousKeyRecord } from './store.js'

/** How long a key that stopped verifying is still recognised (ANON_KEY_EXPIRED / ANON_KEY_REVOKED). */
export const RETIRED_RETENTION_MS = 30 * 24 * 60 * 60 * 1000

/** How many retired keys are recognised at most; older ones answer plain AUTH_INVALID_CREDENTIALS. */
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
  retired.sort((a, b) => retiredAt(b) - retiredAt(a))
  return valid.concat(retired.slice(0, RETIRED_RECORD_LIMIT))
}

function byNewestRotation (a: PreviousKeyRecord, b: PreviousKeyRecord): number {
  return b.rotatedAt - a.rotatedAt
}

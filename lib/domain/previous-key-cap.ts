import { isStillValid } from './retention.js'
import type { PreviousKeyRecord } from './project.js'

/** How many previous keys verify at once unless the plugin's `maxPreviousKeys` says otherwise. */
export const DEFAULT_MAX_PREVIOUS_KEYS = 100

/**
 * Keeps at most `max` previous keys valid: beyond it, the oldest rotations still valid at `now` are revoked
 * (at `now`), so that a rotation is never refused and a state never grows without bound. Returns the records
 * (revoked ones replaced, order kept) and those it revoked. Pure.
 */
export function capPreviousKeys (
  records: readonly PreviousKeyRecord[],
  now: number,
  max: number
): { records: PreviousKeyRecord[], evicted: PreviousKeyRecord[] } {
  const valid = records.filter((record) => isStillValid(record, now))
  if (valid.length <= max) return { records: [...records], evicted: [] }
  const evicting = new Set(valid.sort((a, b) => b.rotatedAt - a.rotatedAt).slice(max))
  const evicted: PreviousKeyRecord[] = []
  const capped = records.map((record) => {
    if (!evicting.has(record)) return record
    const revoked = { ...record, revokedAt: now }
    evicted.push(revoked)
    return revoked
  })
  return { records: capped, evicted }
}

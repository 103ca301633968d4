import { digestOf } from './key.js'
import { findKey, type NamedKey, type PreviousKeyRecord, type ProjectState } from './project.js'
import type { StateChange } from './transitions.js'

/**
 * When a previous key stops verifying. With a grace from first use (`graceMs` set), that is `graceMs` after the
 * first use of the key that replaced it, never later than `expiresAt`; before that first use, `expiresAt`.
 * Any other record expires at `expiresAt`.
 */
export function effectiveExpiry (record: PreviousKeyRecord, newerKeyFirstUsedAt: number | null | undefined): number {
  if (record.graceMs === undefined || newerKeyFirstUsedAt === null || newerKeyFirstUsedAt === undefined) return record.expiresAt
  return Math.min(record.expiresAt, newerKeyFirstUsedAt + record.graceMs)
}

/** A name's previous keys with the expiry each has now, given the first use of its current key. */
export function withEffectiveExpiry (key: NamedKey): PreviousKeyRecord[] {
  return key.previousKeys.map((record) => {
    const expiresAt = effectiveExpiry(record, key.currentKeyFirstUsedAt)
    return expiresAt === record.expiresAt ? record : { ...record, expiresAt }
  })
}

/**
 * The previous keys of a name about to be rotated: a grace that was waiting for the current key's first use
 * starts at that use, or now when the key leaves without one, and is fixed from then on.
 */
export function fixFirstUseGraces (key: NamedKey, now: number): PreviousKeyRecord[] {
  return key.previousKeys.map((record) => {
    if (record.graceMs === undefined) return record
    const { graceMs, ...fixed } = record
    return { ...fixed, expiresAt: effectiveExpiry(record, key.currentKeyFirstUsedAt ?? now) }
  })
}

export interface FirstUseChange {
  name: string
  /** SHA-256 of the key that was used: written only while it is still the name's current key. */
  digest: string
  at: number
}

/**
 * Records the first use of a name's current key, once: when the key is still current and no use is recorded
 * yet. Any number of instances may ask at once; the first to reach the store writes, the others change nothing.
 * Announced, so that every instance applies the grace it starts.
 */
export function recordFirstUse (state: ProjectState, change: FirstUseChange): StateChange<{ recorded: false } | { recorded: true, key: NamedKey }> {
  const key = findKey(state, change.name)
  if (key === undefined || key.currentKeyFirstUsedAt !== null || digestOf(key.currentKey) !== change.digest) return { result: { recorded: false } }
  const used: NamedKey = { ...key, currentKeyFirstUsedAt: change.at }
  return { result: { recorded: true, key: used }, next: { ...state, keys: state.keys.map((held) => held === key ? used : held), changedAt: change.at } }
}

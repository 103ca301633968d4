import { digestOf } from '../key.js'
import { capPreviousKeys, DEFAULT_MAX_PREVIOUS_KEYS } from './previous-key-cap.js'
import { isStillValid, pruneRetired } from './retention.js'
import type { PreviousKeyRecord, RevokeChange, RotateChange } from './store.js'

/**
 * The state changes every store makes, as pure functions. A store runs them inside its own atomic section
 * (a transaction, a script, a synchronous block) on the state it holds, and writes back what they return.
 */
export interface KeyState {
  currentKey: string | null
  previousKeys: PreviousKeyRecord[]
}

/** `evicted`: valid previous keys revoked to stay within `change.maxPreviousKeys` (see previous-key-cap.ts). */
export function rotateState (state: KeyState, change: RotateChange): { state: KeyState, retired: PreviousKeyRecord, evicted: PreviousKeyRecord[] } | null {
  if (state.currentKey === null) return null
  const retired: PreviousKeyRecord = {
    digest: digestOf(state.currentKey),
    rotatedAt: change.now,
    expiresAt: change.expiresAt,
    revokedAt: null
  }
  const capped = capPreviousKeys([retired, ...state.previousKeys], change.now, change.maxPreviousKeys ?? DEFAULT_MAX_PREVIOUS_KEYS)
  const previousKeys = pruneRetired(capped.records, change.now)
  return { state: { currentKey: change.newKey, previousKeys }, retired, evicted: capped.evicted }
}

export function revokeState (state: KeyState, change: RevokeChange): { state: KeyState, revoked: PreviousKeyRecord[] } {
  const revoked: PreviousKeyRecord[] = []
  const records = state.previousKeys.map((record) => {
    if (!isStillValid(record, change.now)) return record
    if (change.fingerprint !== undefined && !record.digest.startsWith(change.fingerprint)) return record
    const revokedRecord = { ...record, revokedAt: change.now }
    revoked.push(revokedRecord)
    return revokedRecord
  })
  return { state: { currentKey: state.currentKey, previousKeys: pruneRetired(records, change.now) }, revoked }
}

import { digestOf, fingerprintOfDigest } from '../../lib/domain/key.js'
import type { KeySnapshot } from '../../lib/domain/project.js'
import { RETIRED_RETENTION_MS } from '../../lib/domain/retention.js'

/** What the model says a verification answers. */
export type Expected =
  | { valid: true, expiresAt: number | null }
  | { valid: false, code: 'AUTH_INVALID_CREDENTIALS' | 'ANON_KEY_EXPIRED' | 'ANON_KEY_REVOKED' }

export interface ModelRecord {
  key: string
  digest: string
  rotatedAt: number
  expiresAt: number
  revokedAt: number | null
}

/**
 * The specification of the key state, as plainly as it can be written: one current key, and every key that
 * was ever current with the instant it was retired, its expiry and its revocation. Nothing is ever pruned here;
 * the retention window is applied when the model answers. Runs stay far below RETIRED_RECORD_LIMIT rotations.
 */
export class KeyModel {
  current: string | null = null
  previous: ModelRecord[] = []
  /** Every key the run has seen, current or not, in the order it appeared. */
  known: string[] = []

  initialize (candidate: string): void {
    if (this.current !== null) return
    this.current = candidate
    this.known.push(candidate)
  }

  rotate (newKey: string, now: number, expiresAt: number): ModelRecord | null {
    if (this.current === null) return null
    const record = { key: this.current, digest: digestOf(this.current), rotatedAt: now, expiresAt, revokedAt: null }
    this.previous.unshift(record)
    this.current = newKey
    this.known.push(newKey)
    return record
  }

  /** Revokes the previous keys that still verify at `now` (only the one with this fingerprint, when given). */
  revoke (now: number, fingerprint?: string): ModelRecord[] {
    const revoked = this.previous.filter((record) => this.isValid(record, now) &&
      (fingerprint === undefined || record.digest.startsWith(fingerprint)))
    for (const record of revoked) record.revokedAt = now
    return revoked
  }

  isValid (record: ModelRecord, now: number): boolean {
    return record.revokedAt === null && now < record.expiresAt
  }

  /** Previous keys that still verify at `now`. */
  validPrevious (now: number): ModelRecord[] {
    return this.previous.filter((record) => this.isValid(record, now))
  }

  /** Previous keys the store must still hold at `now`: the valid ones and those retired less than the window ago. */
  remembered (now: number): ModelRecord[] {
    return this.previous.filter((record) => this.isValid(record, now) || now - (record.revokedAt ?? record.expiresAt) < RETIRED_RETENTION_MS)
  }

  expect (key: string, now: number): Expected {
    if (key === this.current) return { valid: true, expiresAt: null }
    const record = this.previous.find((candidate) => candidate.key === key)
    if (record === undefined) return { valid: false, code: 'AUTH_INVALID_CREDENTIALS' }
    if (this.isValid(record, now)) return { valid: true, expiresAt: record.expiresAt }
    if (now - (record.revokedAt ?? record.expiresAt) >= RETIRED_RETENTION_MS) return { valid: false, code: 'AUTH_INVALID_CREDENTIALS' }
    return { valid: false, code: record.revokedAt === null ? 'ANON_KEY_EXPIRED' : 'ANON_KEY_REVOKED' }
  }

  /** Instants where something changes: every expiry, and every end of a retention window. */
  boundaries (): number[] {
    return this.previous.flatMap((record) => [record.expiresAt, (record.revokedAt ?? record.expiresAt) + RETIRED_RETENTION_MS])
  }
}

/**
 * The invariants a snapshot must satisfy against the model at `now`. Returns the first broken one, or null.
 * A store may keep more retired records than the model requires (pruning happens on writes), never fewer,
 * and never a record the model does not know.
 */
export function snapshotProblem (model: KeyModel, snapshot: KeySnapshot, now: number): string | null {
  if (snapshot.currentKey !== model.current) {
    return `current key is ${String(snapshot.currentKey)}, the model says ${String(model.current)}`
  }
  const text = JSON.stringify(snapshot)
  for (const record of model.previous) {
    if (text.includes(record.key.slice(5))) return `the snapshot holds previous key ${fingerprintOfDigest(record.digest)} in plain text`
  }
  const byDigest = new Map(snapshot.previousKeys.map((record) => [record.digest, record]))
  if (byDigest.size !== snapshot.previousKeys.length) return 'two previous-key records share a digest'
  if (model.current !== null && byDigest.has(digestOf(model.current))) return 'the current key is also listed as a previous key'
  for (const record of model.remembered(now)) {
    const stored = byDigest.get(record.digest)
    if (stored === undefined) return `previous key ${fingerprintOfDigest(record.digest)} is missing from the store`
    if (stored.rotatedAt !== record.rotatedAt || stored.expiresAt !== record.expiresAt || stored.revokedAt !== record.revokedAt) {
      return `previous key ${record.digest.slice(0, 12)} is stored as ${JSON.stringify(stored)}, the model says ` +
        JSON.stringify({ rotatedAt: record.rotatedAt, expiresAt: record.expiresAt, revokedAt: record.revokedAt })
    }
  }
  const knownDigests = new Set(model.previous.map((record) => record.digest))
  for (const digest of byDigest.keys()) {
    if (!knownDigests.has(digest)) return `the store holds a previous key ${digest.slice(0, 12)} the model never retired`
  }
  return null
}

import { digestOf, fingerprintOf, fingerprintOfDigest, isAnonKey } from './domain/key.js'
import type { RejectionCode } from './rejection.js'
import type { KeySnapshot, PreviousKeyRecord } from './domain/project.js'
import { pruneRetired, RETIRED_RETENTION_MS, retiredAt } from './domain/retention.js'
import { UsageCounter } from './domain/usage.js'

/** What a request that carries a valid anon key gets as `request.anonKey`. */
export interface AnonKeyIdentity {
  role: 'anon'
  fingerprint: string
  /** ISO 8601 instant the key stops verifying; null for the current key. */
  expiresAt: string | null
}

export type VerifyResult = ({ valid: true } & AnonKeyIdentity) | { valid: false, code: RejectionCode }

/** A key that verifies, with both answers built once so that verifying allocates nothing. */
export interface ValidEntry {
  identity: Readonly<AnonKeyIdentity>
  result: Readonly<VerifyResult>
}

interface PreviousEntry {
  record: PreviousKeyRecord
  valid: ValidEntry
}

function validEntry (fingerprint: string, expiresAt: number | null): ValidEntry {
  const identity = Object.freeze({
    role: 'anon' as const,
    fingerprint,
    expiresAt: expiresAt === null ? null : new Date(expiresAt).toISOString()
  })
  return { identity, result: Object.freeze({ valid: true as const, ...identity }) }
}

/**
 * The in-process view of the store that every verification reads. It never calls the store itself.
 *
 * Timing: the current key is found with a Map keyed by the key itself, and a Map lookup hashes the whole
 * string before it compares anything, so how much of a wrong key matches does not change the time taken.
 * Previous keys are known only by their SHA-256 digest, so a presented key is hashed and looked up by digest.
 * verifyAnonKey's fast path, `currentForHeader`, is the same kind of lookup keyed by the whole header value
 * "Bearer <current key>": one hash of the header, no slice, no clock read (the current key never expires).
 * A header that misses it only tells the caller what it already knows: that it was not exactly that string.
 */
export class KeyCache {
  version = -1
  currentKey: string | null = null
  private current = new Map<string, ValidEntry>()
  /** The current key's entry again, keyed by the header value "Bearer <current key>". */
  private currentHeader = new Map<string, ValidEntry>()
  private previous = new Map<string, PreviousEntry>()
  /** Requests that carried each previous key, not yet reported to the store. */
  readonly usage = new UsageCounter()

  /** Takes a snapshot unless it is older than the one already held. Returns whether it was taken. */
  apply (snapshot: KeySnapshot, now: number): boolean {
    if (snapshot.version < this.version) return false
    this.version = snapshot.version
    this.currentKey = snapshot.currentKey
    const current = new Map<string, ValidEntry>()
    const currentHeader = new Map<string, ValidEntry>()
    if (snapshot.currentKey !== null) {
      const entry = validEntry(fingerprintOf(snapshot.currentKey), null)
      current.set(snapshot.currentKey, entry)
      currentHeader.set(`Bearer ${snapshot.currentKey}`, entry)
    }
    const previous = new Map<string, PreviousEntry>()
    for (const record of pruneRetired(snapshot.previousKeys, now)) {
      previous.set(record.digest, { record, valid: validEntry(fingerprintOfDigest(record.digest), record.expiresAt) })
    }
    this.current = current
    this.currentHeader = currentHeader
    this.previous = previous
    return true
  }

  /** The current key's entry when `header` is exactly "Bearer <current key>", else undefined: the hook's fast path. */
  currentForHeader (header: string | undefined): ValidEntry | undefined {
    return this.currentHeader.get(header as string)
  }

  /** The valid entry for `key`, or why it is refused. Expiry is judged against `now`, never cached. */
  lookup (key: unknown, now: number): ValidEntry | RejectionCode {
    const entry = this.current.get(key as string)
    if (entry !== undefined) return entry
    if (!isAnonKey(key)) return 'AUTH_INVALID_CREDENTIALS'
    const previous = this.previous.get(digestOf(key))
    if (previous === undefined) return 'AUTH_INVALID_CREDENTIALS'
    const { record } = previous
    if (record.revokedAt === null && now < record.expiresAt) {
      this.usage.count(record.digest, now)
      return previous.valid
    }
    if (now - retiredAt(record) >= RETIRED_RETENTION_MS) return 'AUTH_INVALID_CREDENTIALS'
    return record.revokedAt === null ? 'ANON_KEY_EXPIRED' : 'ANON_KEY_REVOKED'
  }
}

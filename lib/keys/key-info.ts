import { fingerprintOf, fingerprintOfDigest } from '../domain/key.js'
import { isSafeToRevoke, type KeyUses } from '../domain/key-usage.js'
import { withEffectiveExpiry } from '../domain/first-use.js'
import { keySettingsInfo, type AllowedApps, type RateLimit } from './key-settings-info.js'
import type { NamedKey, PreviousKeyRecord } from '../domain/project.js'
import { isStillValid } from '../domain/retention.js'

/** A previous key as the admin routes and `listPrevious()` show it: by fingerprint, never whole. */
export interface PreviousKeyInfo {
  fingerprint: string
  rotatedAt: string
  expiresAt: string
  /** Requests that carried this key since its rotation, summed over every instance. */
  requests: number
  /** The last such request, or null if none was seen. */
  lastSeenAt: string | null
  /** The last request any instance verified with this key (as current or previous key), or null if none is known. */
  lastUsedAt: string | null
  /** Whether no instance verified it for `safeToRevokeAfterHours`, and it has been a previous key that long. */
  safeToRevoke: boolean
  /** When its grace began: at the rotation, or at the first use of the key that replaced it (`expiresAt` is the bound now). */
  graceStartsAt: 'rotation' | 'first-use'
}

/** A named key as `GET /api/secrets/anon-keys/:name` and `getKey()` show it. */
export interface AnonKeyInfo {
  name: string
  /** The current key of this name, whole: admins read it, as GET /api/metadata/anon-key does. */
  anonKey: string
  fingerprint: string
  description: string
  allowedOrigins: string[] | null
  /** Apps allowed to use the key, or null for any. */
  allowedApps: AllowedApps | null
  /** Whether requests with the key need a valid attestation token. */
  requireAttestation: boolean
  /** The key's own rate limit, or null for the defaults of anonKeyRateLimit. */
  rateLimit: RateLimit | null
  createdAt: string
  previousKeys: PreviousKeyInfo[]
}

/** How the listings judge usage: every instance's figures, and the quiet time after which a key is safe to revoke. */
export interface UsageView {
  uses: KeyUses
  safeToRevokeAfterHours: number
}

export const iso = (ms: number): string => new Date(ms).toISOString()

const isoOrNull = (ms: number | null): string | null => ms === null ? null : iso(ms)

/** The previous keys of a name (with their expiry now: withEffectiveExpiry) that still verify, newest rotation first, with their usage. */
export function previousKeyInfos (name: string, records: readonly PreviousKeyRecord[], usage: UsageView, now: number): PreviousKeyInfo[] {
  return records
    .filter((record) => isStillValid(record, now))
    .sort((a, b) => b.rotatedAt - a.rotatedAt)
    .map((record) => {
      const { lastUsedAt, previousRequests } = usage.uses.ofPrevious(name, record)
      return {
        fingerprint: fingerprintOfDigest(record.digest),
        rotatedAt: iso(record.rotatedAt),
        expiresAt: iso(record.expiresAt),
        requests: previousRequests,
        lastSeenAt: previousRequests > 0 ? isoOrNull(lastUsedAt) : null,
        lastUsedAt: isoOrNull(lastUsedAt),
        safeToRevoke: isSafeToRevoke(record.rotatedAt, lastUsedAt, now, usage.safeToRevokeAfterHours),
        graceStartsAt: record.graceStartsAt ?? 'rotation'
      }
    })
}

export function anonKeyInfo (key: NamedKey, usage: UsageView, now: number): AnonKeyInfo {
  return {
    name: key.name,
    anonKey: key.currentKey,
    fingerprint: fingerprintOf(key.currentKey),
    description: key.description,
    allowedOrigins: key.allowedOrigins === null ? null : [...key.allowedOrigins],
    ...keySettingsInfo(key),
    createdAt: iso(key.createdAt),
    previousKeys: previousKeyInfos(key.name, withEffectiveExpiry(key), usage, now)
  }
}

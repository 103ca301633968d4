import { fingerprintOf, fingerprintOfDigest } from '../domain/key.js'
import { keySettingsInfo, type AllowedApps, type RateLimit } from './key-settings-info.js'
import type { NamedKey, PreviousKeyRecord } from '../domain/project.js'
import { isStillValid } from '../domain/retention.js'
import type { UsageCounter } from '../domain/usage.js'

/** A previous key as the admin routes and `listPrevious()` show it: by fingerprint, never whole. */
export interface PreviousKeyInfo {
  fingerprint: string
  rotatedAt: string
  expiresAt: string
  /** Requests that carried this key since its rotation: all instances' reported counts plus this one's. */
  requests: number
  /** The last such request, or null if none was seen. */
  lastSeenAt: string | null
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

export const iso = (ms: number): string => new Date(ms).toISOString()

/** The previous keys that still verify, newest rotation first, with the usage this process has not reported yet. */
export function previousKeyInfos (records: readonly PreviousKeyRecord[], usage: UsageCounter | undefined, now: number): PreviousKeyInfo[] {
  return records
    .filter((record) => isStillValid(record, now))
    .sort((a, b) => b.rotatedAt - a.rotatedAt)
    .map((record) => {
      const unreported = usage?.peek(record.digest)
      const lastSeenAt = Math.max(record.lastSeenAt ?? 0, unreported?.lastSeenAt ?? 0)
      return {
        fingerprint: fingerprintOfDigest(record.digest),
        rotatedAt: iso(record.rotatedAt),
        expiresAt: iso(record.expiresAt),
        requests: (record.requests ?? 0) + (unreported?.requests ?? 0),
        lastSeenAt: lastSeenAt === 0 ? null : iso(lastSeenAt)
      }
    })
}

export function anonKeyInfo (key: NamedKey, usage: UsageCounter | undefined, now: number): AnonKeyInfo {
  return {
    name: key.name,
    anonKey: key.currentKey,
    fingerprint: fingerprintOf(key.currentKey),
    description: key.description,
    allowedOrigins: key.allowedOrigins === null ? null : [...key.allowedOrigins],
    ...keySettingsInfo(key),
    createdAt: iso(key.createdAt),
    previousKeys: previousKeyInfos(key.previousKeys, usage, now)
  }
}

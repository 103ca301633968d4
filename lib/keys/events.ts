import type { AllowedApps, RateLimit } from './key-settings-info.js'

/**
 * The audit events of `app.anonKey`, typed: `app.anonKey.on('rotated', (event) => …)` infers `event`.
 * Every event names the key (`name`), and in tenant mode the tenant; none ever holds a whole key.
 */

interface EventBase {
  /** The key's name: `default`, or one made with createKey. */
  name: string
  /** The tenant, in tenant mode only. */
  tenant?: string
  /** Who asked for the change: the admin JWT's `sub`, what `authorize` named, or what code passed; else null. */
  actor: string | null
}

export interface RotatedEvent extends EventBase {
  gracePeriodHours: number
  /** When the old key's grace begins: at the rotation, or at the new key's first use (then see `firstUsed`). */
  graceStartsAt: 'rotation' | 'first-use'
  rotatedAt: string
  oldKeyExpiresAt: string
  oldFingerprint: string
  newFingerprint: string
  /** Previous keys revoked by this rotation to stay within `maxPreviousKeys`, oldest rotation first. */
  evictedFingerprints: string[]
}

export interface RevokedEvent extends EventBase {
  scope: 'all' | 'one'
  revoked: number
  fingerprints: string[]
  revokedAt: string
}

/** A key's apps, attestation and rate limit, as they are after the change. */
interface KeySettingsInEvent {
  allowedApps: AllowedApps | null
  requireAttestation: boolean
  rateLimit: RateLimit | null
}

export interface CreatedEvent extends EventBase, KeySettingsInEvent {
  fingerprint: string
  description: string
  allowedOrigins: string[] | null
  createdAt: string
}

export interface UpdatedEvent extends EventBase, KeySettingsInEvent {
  description: string
  allowedOrigins: string[] | null
  updatedAt: string
}

export interface DeletedEvent extends EventBase {
  /** The keys of the name that verified until now (its current key first): they answer ANON_KEY_REVOKED. */
  fingerprints: string[]
  deletedAt: string
}

export interface FirstUsedEvent extends EventBase {
  /** The rotated-in key, verified for the first time by any instance. */
  fingerprint: string
  firstUsedAt: string
  /** Previous keys of the name whose grace started with this use, and when each now stops verifying. */
  graceStarted: Array<{ fingerprint: string, expiresAt: string }>
}

/** Event name → listener arguments, for `EventEmitter<AnonKeyEvents>`. */
export interface AnonKeyEvents {
  rotated: [RotatedEvent]
  revoked: [RevokedEvent]
  created: [CreatedEvent]
  updated: [UpdatedEvent]
  deleted: [DeletedEvent]
  firstUsed: [FirstUsedEvent]
}

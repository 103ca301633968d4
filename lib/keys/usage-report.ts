import { fingerprintOf, fingerprintOfDigest } from '../domain/key.js'
import { isSafeToRevoke, KeyUses } from '../domain/key-usage.js'
import type { NamedKey, RetiredKeyRecord } from '../domain/project.js'
import { isStillValid } from '../domain/retention.js'
import { withEffectiveExpiry } from '../domain/first-use.js'
import { HOUR_MS } from '../domain/time.js'
import { historyStart, hourOf, type RefusedUsageCode, type UsageHistory } from '../domain/usage-history.js'
import { iso } from './key-info.js'

/** One key's use, hour by hour. */
export interface KeyUsage {
  fingerprint: string
  role: 'current' | 'previous'
  /** When it stopped being current; null for the current key. */
  rotatedAt: string | null
  /** When it stops verifying; null for the current key. */
  expiresAt: string | null
  lastUsedAt: string | null
  /** Verified requests in the last 24 hours (this hour and the 23 before it). */
  requests24h: number
  /** Verified requests per hour over the last 7 days, oldest first; hours without any are left out. */
  hourly: Array<{ hour: string, requests: number }>
  /** Previous keys only: whether no instance verified it for safeToRevokeAfterHours, and it has been a previous key that long. */
  safeToRevoke?: boolean
  /** Previous keys only: when its grace began (at the rotation, or at the first use of the key that replaced it). */
  graceStartsAt?: 'rotation' | 'first-use'
}

/** `GET /api/secrets/anon-keys/:name/usage`: the name's keys, and the refused requests that carried its dead keys. */
export interface KeyUsageReport {
  name: string
  keys: KeyUsage[]
  /** Per hour, requests refused although they carried a key of this name: expired, revoked, or from a wrong origin or app. */
  refused: Array<{ hour: string, code: RefusedUsageCode, fingerprint: string, requests: number }>
}

const HOURS_24 = 24

/**
 * The usage of one name's keys at `now`, from the project's history summed over instances: its current key and
 * its previous keys that still verify, and the refusals of any key the name had (`retired`: the project's
 * retired keys, where the name's dead keys are).
 */
export function keyUsageReport (key: NamedKey, retired: readonly RetiredKeyRecord[], history: UsageHistory, now: number,
  safeToRevokeAfterHours: number): KeyUsageReport {
  const from = historyStart(now)
  const from24h = hourOf(now) - (HOURS_24 - 1) * HOUR_MS
  const uses = new KeyUses(history)
  const hourlyOf = (fingerprint: string): KeyUsage['hourly'] => history.verified
    .filter((row) => row.name === key.name && row.fingerprint === fingerprint && row.hour >= from && row.hour <= now && row.requests > 0)
    .sort((a, b) => a.hour - b.hour)
    .map((row) => ({ hour: iso(row.hour), requests: row.requests }))
  const usageOf = (fingerprint: string, role: KeyUsage['role'], rotatedAt: number | null, expiresAt: number | null, lastUsedAt: number | null): KeyUsage => {
    const hourly = hourlyOf(fingerprint)
    return {
      fingerprint,
      role,
      rotatedAt: rotatedAt === null ? null : iso(rotatedAt),
      expiresAt: expiresAt === null ? null : iso(expiresAt),
      lastUsedAt: lastUsedAt === null ? null : iso(lastUsedAt),
      requests24h: hourly.reduce((sum, row) => Date.parse(row.hour) >= from24h ? sum + row.requests : sum, 0),
      hourly
    }
  }
  const current = fingerprintOf(key.currentKey)
  const keys = [usageOf(current, 'current', null, null, uses.ofKey(key.name, current))]
  const fingerprints = new Set([current])
  for (const record of withEffectiveExpiry(key).sort((a, b) => b.rotatedAt - a.rotatedAt)) {
    const fingerprint = fingerprintOfDigest(record.digest)
    fingerprints.add(fingerprint)
    if (!isStillValid(record, now)) continue
    const { lastUsedAt } = uses.ofPrevious(key.name, record)
    keys.push({
      ...usageOf(fingerprint, 'previous', record.rotatedAt, record.expiresAt, lastUsedAt),
      safeToRevoke: isSafeToRevoke(record.rotatedAt, lastUsedAt, now, safeToRevokeAfterHours),
      graceStartsAt: record.graceStartsAt ?? 'rotation'
    })
  }
  for (const record of retired) if (record.name === key.name) fingerprints.add(fingerprintOfDigest(record.digest))
  const refused = history.refused
    .filter((row) => fingerprints.has(row.fingerprint) && row.hour >= from && row.hour <= now && row.requests > 0)
    .sort((a, b) => a.hour - b.hour || a.code.localeCompare(b.code) || a.fingerprint.localeCompare(b.fingerprint))
    .map((row) => ({ hour: iso(row.hour), code: row.code, fingerprint: row.fingerprint, requests: row.requests }))
  return { name: key.name, keys, refused }
}

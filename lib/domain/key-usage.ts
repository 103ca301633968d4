import { fingerprintOfDigest } from './key.js'
import type { PreviousKeyRecord } from './project.js'
import { HOUR_MS } from './time.js'
import type { KeyLastUse, UsageHistory } from './usage-history.js'

/** What the listings say of one key's use, summed over instances. */
export interface KeyUseFigures {
  /** The last verified request that carried the key, or null when none is known. */
  lastUsedAt: number | null
  /** Requests verified with the key since its rotation (previous keys only). */
  previousRequests: number
}

/** The last use of each key of a history, by name and fingerprint. */
export class KeyUses {
  private readonly byKey = new Map<string, KeyLastUse>()

  constructor (history: UsageHistory) {
    for (const row of history.keys) this.byKey.set(`${row.name} ${row.fingerprint}`, row)
  }

  /** A previous key's figures: the history's, with the ones a document written before it kept on the record. */
  ofPrevious (name: string, record: PreviousKeyRecord): KeyUseFigures {
    const row = this.byKey.get(`${name} ${fingerprintOfDigest(record.digest)}`)
    const lastUsedAt = Math.max(row?.lastUsedAt ?? 0, record.lastSeenAt ?? 0)
    return { lastUsedAt: lastUsedAt === 0 ? null : lastUsedAt, previousRequests: (row?.previousRequests ?? 0) + (record.requests ?? 0) }
  }

  ofKey (name: string, fingerprint: string): number | null {
    return this.byKey.get(`${name} ${fingerprint}`)?.lastUsedAt ?? null
  }
}

/**
 * Whether revoking a previous key now should break no client: it has been a previous key for at least
 * `afterHours`, and no instance verified it for that long.
 */
export function isSafeToRevoke (rotatedAt: number, lastUsedAt: number | null, now: number, afterHours: number): boolean {
  const quiet = afterHours * HOUR_MS
  return now - rotatedAt >= quiet && (lastUsedAt === null || now - lastUsedAt >= quiet)
}

import { HOUR_MS } from './time.js'

/** How long hourly usage is kept: the last 7 days. */
export const USAGE_HISTORY_MS = 7 * 24 * HOUR_MS

/** The refusals counted by key: a known key that no longer verifies, or a valid key used from a wrong origin or app. */
export type RefusedUsageCode = 'ANON_KEY_EXPIRED' | 'ANON_KEY_REVOKED' | 'ANON_KEY_ORIGIN_NOT_ALLOWED' | 'ANON_KEY_APP_NOT_ALLOWED'

export const REFUSED_USAGE_CODES: readonly RefusedUsageCode[] = ['ANON_KEY_EXPIRED', 'ANON_KEY_REVOKED', 'ANON_KEY_ORIGIN_NOT_ALLOWED', 'ANON_KEY_APP_NOT_ALLOWED']

/** Verified requests that carried one key (name, fingerprint) in one hour (its first millisecond, UTC). */
export interface KeyHourCount {
  name: string
  fingerprint: string
  hour: number
  requests: number
}

/** Refused requests that carried one known key in one hour, by the code they got. */
export interface RefusedHourCount {
  hour: number
  code: RefusedUsageCode
  fingerprint: string
  requests: number
}

/** One key's last use, and the requests it verified while it was a previous key. */
export interface KeyLastUse {
  name: string
  fingerprint: string
  lastUsedAt: number
  previousRequests: number
}

/** A project's usage history as a store keeps it, apart from the project document. */
export interface UsageHistory {
  verified: KeyHourCount[]
  refused: RefusedHourCount[]
  keys: KeyLastUse[]
}

/**
 * What an instance hands a store every `usageFlushMs`: counts to add (never to set: other instances add theirs)
 * and what to forget. A store adds `verified` and `refused` to the rows of the same hour and key, takes the
 * latest `lastUsedAt` and adds `previousRequests` per key, then forgets the hours before `keepHoursFrom` and the
 * keys last used before `keepKeysFrom`. Every row of a batch is distinct (see mergeUsage).
 */
export interface UsageBatch extends UsageHistory {
  keepHoursFrom: number
  keepKeysFrom: number
}

export function emptyHistory (): UsageHistory {
  return { verified: [], refused: [], keys: [] }
}

/** The first millisecond of the UTC hour `at` falls in. */
export function hourOf (at: number): number {
  return at - (((at % HOUR_MS) + HOUR_MS) % HOUR_MS)
}

/** The first hour of the history at `now`: this hour and the 167 before it make the last 7 days. */
export function historyStart (now: number): number {
  return hourOf(now) - USAGE_HISTORY_MS + HOUR_MS
}

/**
 * Histories summed: counts of the same hour and key added, the latest last use kept. Pure; what the memory
 * store keeps, and how batches that failed to reach a store join the next one without a row twice.
 */
export function mergeUsage (...histories: UsageHistory[]): UsageHistory {
  const verified = new Map<string, KeyHourCount>()
  const refused = new Map<string, RefusedHourCount>()
  const keys = new Map<string, KeyLastUse>()
  for (const history of histories) {
    for (const row of history.verified) {
      const id = `${row.hour} ${row.name} ${row.fingerprint}`
      const held = verified.get(id)
      if (held === undefined) verified.set(id, { ...row })
      else held.requests += row.requests
    }
    for (const row of history.refused) {
      const id = `${row.hour} ${row.code} ${row.fingerprint}`
      const held = refused.get(id)
      if (held === undefined) refused.set(id, { ...row })
      else held.requests += row.requests
    }
    for (const row of history.keys) {
      const id = `${row.name} ${row.fingerprint}`
      const held = keys.get(id)
      if (held === undefined) keys.set(id, { ...row })
      else {
        held.lastUsedAt = Math.max(held.lastUsedAt, row.lastUsedAt)
        held.previousRequests += row.previousRequests
      }
    }
  }
  return { verified: [...verified.values()], refused: [...refused.values()], keys: [...keys.values()] }
}

/** A history without what a batch says to forget: what every store keeps after writing it. */
export function trimUsage (history: UsageHistory, keepHoursFrom: number, keepKeysFrom: number): UsageHistory {
  return {
    verified: history.verified.filter((row) => row.hour >= keepHoursFrom),
    refused: history.refused.filter((row) => row.hour >= keepHoursFrom),
    keys: history.keys.filter((row) => row.lastUsedAt >= keepKeysFrom)
  }
}

/** Whether a batch has nothing to add. */
export function isEmptyUsage (history: UsageHistory): boolean {
  return history.verified.length === 0 && history.refused.length === 0 && history.keys.length === 0
}

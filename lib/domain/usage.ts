import { fingerprintOfDigest } from './key.js'
import { HOUR_MS } from './time.js'
import { emptyHistory, hourOf, isEmptyUsage, mergeUsage, type RefusedUsageCode, type UsageHistory } from './usage-history.js'

/** How often one instance saw one previous key since its last report to the store (the document's figures). */
export interface UsageReport {
  /** SHA-256 of the key, as in PreviousKeyRecord. */
  digest: string
  requests: number
  lastSeenAt: number
}

/** A key as counted: what a verification knows of it, built once per snapshot. */
export interface CountedKey {
  readonly name: string
  readonly fingerprint: string
  readonly digest: string
  /** Whether it is a previous key (its requests also count toward the key's figures since its rotation). */
  readonly previous: boolean
}

/** One key's figures since the last take: its requests in the hour being counted, and over the whole batch. */
interface Tally {
  key: CountedKey
  hour: number
  requests: number
  previousRequests: number
  lastUsedAt: number
}

/** What a counter hands over: the history to add, and the previous-key reports for a store without a history. */
export interface UsageTake {
  history: UsageHistory
  /** The same counts as the document's per-previous-key figures (a store without recordUsage keeps those). */
  reports: UsageReport[]
}

// Shared and never written: a counter that never counted anything allocates no Map of its own.
const NONE = new Map<string, Tally>()

/**
 * Counts, in process, one project's requests per key and hour (verified) and per code, key and hour (refused
 * with a known key), until they are handed to the store in one batch. Only keys the project knows are counted,
 * so random keys cost nothing here. A verified request of a key already counted this hour costs one Map lookup
 * and three additions; a counter with nothing to report is listed in `pending` only from its first count on.
 */
export class UsageCounter {
  private tallies = NONE
  /** Hours that ended since the last take. */
  private ended: UsageHistory = emptyHistory()
  private refusals = new Map<string, { hour: number, code: RefusedUsageCode, digest: string, requests: number }>()
  /** Batches that failed to reach the store, to go with the next take. */
  private returned: UsageTake[] = []
  private readonly pending: Set<UsageCounter> | null

  /** The project counted (a tenant id, or '' for the single project). */
  readonly project: string

  constructor (project: string, pending: Set<UsageCounter> | null = null) {
    this.project = project
    this.pending = pending
  }

  /** A verified request with `key` at `now`. */
  verified (key: CountedKey, now: number): void {
    const tally = this.tallies.get(key.fingerprint)
    if (tally !== undefined && tally.key === key && now >= tally.hour && now - tally.hour < HOUR_MS) {
      tally.requests += 1
      if (key.previous) tally.previousRequests += 1
      if (now > tally.lastUsedAt) tally.lastUsedAt = now
      return
    }
    this.startTally(key, tally, now)
  }

  /** A request refused with `code` although it carried a key the project knows (by its digest). */
  refused (code: RefusedUsageCode, digest: string, now: number): void {
    const hour = hourOf(now)
    const id = `${hour} ${code} ${digest}`
    const held = this.refusals.get(id)
    if (held !== undefined) {
      held.requests += 1
      return
    }
    this.refusals.set(id, { hour, code, digest, requests: 1 })
    this.pending?.add(this)
  }

  /** Everything counted so far (with what was given back), and a fresh start. */
  take (): UsageTake {
    const fresh: UsageHistory = { verified: [...this.ended.verified], refused: [], keys: [...this.ended.keys] }
    const reports: UsageReport[] = []
    for (const tally of this.tallies.values()) {
      const { name, fingerprint, digest } = tally.key
      if (tally.requests > 0) fresh.verified.push({ name, fingerprint, hour: tally.hour, requests: tally.requests })
      fresh.keys.push({ name, fingerprint, lastUsedAt: tally.lastUsedAt, previousRequests: tally.previousRequests })
      if (tally.previousRequests > 0) reports.push({ digest, requests: tally.previousRequests, lastSeenAt: tally.lastUsedAt })
    }
    for (const { hour, code, digest, requests } of this.refusals.values()) {
      fresh.refused.push({ hour, code, fingerprint: fingerprintOfDigest(digest), requests })
    }
    const returned = this.returned
    this.tallies = NONE
    this.ended = emptyHistory()
    this.refusals = new Map()
    this.returned = []
    return {
      history: mergeUsage(...returned.map((take) => take.history), fresh),
      reports: mergeReports([...returned.flatMap((take) => take.reports), ...reports])
    }
  }

  /** Puts back a batch that could not be delivered, so that no request is lost from the figures. */
  giveBack (take: UsageTake): void {
    if (isEmptyUsage(take.history)) return
    this.returned.push(take)
    this.pending?.add(this)
  }

  /** This instance's counts not handed to the store yet (taken or not), as a history. */
  unreported (): UsageHistory {
    const counted: UsageHistory = { verified: [...this.ended.verified], refused: [], keys: [...this.ended.keys] }
    for (const tally of this.tallies.values()) {
      const { name, fingerprint } = tally.key
      counted.verified.push({ name, fingerprint, hour: tally.hour, requests: tally.requests })
      counted.keys.push({ name, fingerprint, lastUsedAt: tally.lastUsedAt, previousRequests: tally.previousRequests })
    }
    for (const { hour, code, digest, requests } of this.refusals.values()) {
      counted.refused.push({ hour, code, fingerprint: fingerprintOfDigest(digest), requests })
    }
    return mergeUsage(...this.returned.map((take) => take.history), counted)
  }

  private startTally (key: CountedKey, tally: Tally | undefined, now: number): void {
    if (tally === undefined) {
      if (this.tallies === NONE) {
        this.tallies = new Map()
        this.pending?.add(this)
      }
      this.tallies.set(key.fingerprint, { key, hour: hourOf(now), requests: 1, previousRequests: key.previous ? 1 : 0, lastUsedAt: now })
      return
    }
    // Another hour, or the same key under a newer snapshot (rotated, renamed): the counted hour ends here.
    if (tally.requests > 0) this.ended.verified.push({ name: tally.key.name, fingerprint: tally.key.fingerprint, hour: tally.hour, requests: tally.requests })
    if (tally.key.name !== key.name) {
      this.ended.keys.push({ name: tally.key.name, fingerprint: tally.key.fingerprint, lastUsedAt: tally.lastUsedAt, previousRequests: tally.previousRequests })
      tally.previousRequests = 0
      tally.lastUsedAt = now
    }
    tally.key = key
    tally.hour = hourOf(now)
    tally.requests = 1
    if (key.previous) tally.previousRequests += 1
    if (now > tally.lastUsedAt) tally.lastUsedAt = now
  }
}

function mergeReports (reports: UsageReport[]): UsageReport[] {
  const byDigest = new Map<string, UsageReport>()
  for (const report of reports) {
    const held = byDigest.get(report.digest)
    if (held === undefined) byDigest.set(report.digest, { ...report })
    else {
      held.requests += report.requests
      held.lastSeenAt = Math.max(held.lastSeenAt, report.lastSeenAt)
    }
  }
  return [...byDigest.values()]
}

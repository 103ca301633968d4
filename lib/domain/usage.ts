import { fingerprintOfDigest } from './key.js'
import { emptyHistory, hourOf, mergeUsage, type RefusedUsageCode, type UsageHistory } from './usage-history.js'
import { HOUR_MS } from './time.js'

/** How often one instance saw one previous key since its last report to the store (the document's figures). */
export interface UsageReport {
  /** SHA-256 of the key, as in PreviousKeyRecord. */
  digest: string
  requests: number
  lastSeenAt: number
}

/**
 * One key's verified requests since they were last taken: a verification adds one to `requests` and does
 * nothing else (no clock, no allocation). Which hour they fall in is decided when they are taken.
 */
export interface KeyTally {
  readonly name: string
  readonly fingerprint: string
  readonly digest: string
  /** Whether it is a previous key (its requests also count toward the key's figures since its rotation). */
  readonly previous: boolean
  requests: number
}

/** What a counter hands over: the history to add, and the previous-key reports for a store without a history. */
export interface UsageTake {
  history: UsageHistory
  /** The same counts as the document's per-previous-key figures (a store without recordUsage keeps those). */
  reports: UsageReport[]
}

type RefusalCounts = Partial<Record<RefusedUsageCode, number>>

/**
 * One project's usage in process, until it is handed to the store in one batch. Verifications count into the
 * keys' tallies; a tally is listed here on its first request since the last take. `close(at)` moves what was
 * counted into the hour of `at` (the plugin closes at every hour's end and before every flush, so that counts
 * never straddle an hour), and `take(at)` hands everything over. Refusals of known keys are counted here, by key
 * and code. Only keys the project knows are counted, so random keys cost nothing here.
 */
export class UsageCounter {
  /** The project counted (a tenant id, or '' for the single project). */
  readonly project: string
  /** Tallies that counted a request since they were last closed. */
  private counting: KeyTally[] = []
  /** Refused requests by digest and code since the last close. */
  private refusals: Map<string, RefusalCounts> | null = null
  /** What was closed and not taken yet, with what was given back. */
  private closed: UsageTake = { history: emptyHistory(), reports: [] }

  constructor (project: string) {
    this.project = project
  }

  /** A tally's first request since it was last closed (see KeyTally). */
  verified (tally: KeyTally): void {
    this.counting.push(tally)
  }

  /** A request refused with `code` although it carried a key the project knows (by its digest). */
  refused (code: RefusedUsageCode, digest: string): void {
    this.refusals ??= new Map()
    let counts = this.refusals.get(digest)
    if (counts === undefined) this.refusals.set(digest, counts = {})
    counts[code] = (counts[code] ?? 0) + 1
  }

  /**
   * Moves what was counted since the last close into the hour of `at`, as used last at `at` (no later than the
   * end of that hour), and starts the tallies again from 0.
   */
  close (at: number): void {
    const fresh = this.counted(at)
    for (const tally of this.counting) tally.requests = 0
    this.counting = []
    this.refusals = null
    this.closed = joined([this.closed, fresh])
  }

  /** Everything counted until `at` (see close), and a fresh start. */
  take (at: number): UsageTake {
    this.close(at)
    const taken = this.closed
    this.closed = { history: emptyHistory(), reports: [] }
    return taken
  }

  /** Puts back a batch that could not be delivered, so that no request is lost from the figures. */
  giveBack (take: UsageTake): void {
    this.closed = joined([take, this.closed])
  }

  /** This instance's counts not handed to the store yet, as if closed at `at`; nothing changes. */
  unreported (at: number): UsageHistory {
    return joined([this.closed, this.counted(at)]).history
  }

  private counted (at: number): UsageTake {
    const hour = hourOf(at)
    const lastUsedAt = Math.min(at, hour + HOUR_MS - 1)
    const history = emptyHistory()
    const reports: UsageReport[] = []
    for (const { name, fingerprint, digest, previous, requests } of this.counting) {
      history.verified.push({ name, fingerprint, hour, requests })
      history.keys.push({ name, fingerprint, lastUsedAt, previousRequests: previous ? requests : 0 })
      if (previous) reports.push({ digest, requests, lastSeenAt: lastUsedAt })
    }
    for (const [digest, counts] of this.refusals ?? []) {
      const fingerprint = fingerprintOfDigest(digest)
      for (const [code, requests] of Object.entries(counts) as Array<[RefusedUsageCode, number]>) history.refused.push({ hour, code, fingerprint, requests })
    }
    return { history: mergeUsage(history), reports }
  }
}

function joined (takes: UsageTake[]): UsageTake {
  const byDigest = new Map<string, UsageReport>()
  for (const report of takes.flatMap((take) => take.reports)) {
    const held = byDigest.get(report.digest)
    if (held === undefined) byDigest.set(report.digest, { ...report })
    else {
      held.requests += report.requests
      held.lastSeenAt = Math.max(held.lastSeenAt, report.lastSeenAt)
    }
  }
  return { history: mergeUsage(...takes.map((take) => take.history)), reports: [...byDigest.values()] }
}

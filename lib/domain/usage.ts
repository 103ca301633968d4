/** How often one instance saw one previous key since its last report to the store. */
export interface UsageReport {
  /** SHA-256 of the key, as in PreviousKeyRecord. */
  digest: string
  requests: number
  lastSeenAt: number
}

/**
 * Counts, in process, the requests that carried each previous key, until they are handed to the store in one
 * batch. Counting allocates only for the first request of a key in each batch.
 */
export class UsageCounter {
  private pending = new Map<string, UsageReport>()

  count (digest: string, now: number): void {
    const report = this.pending.get(digest)
    if (report === undefined) this.pending.set(digest, { digest, requests: 1, lastSeenAt: now })
    else {
      report.requests += 1
      report.lastSeenAt = now
    }
  }

  /** Everything counted so far, and a fresh start. */
  take (): UsageReport[] {
    const reports = [...this.pending.values()]
    this.pending = new Map()
    return reports
  }

  /** Puts back reports that could not be delivered, so that no request is lost from the figures. */
  giveBack (reports: readonly UsageReport[]): void {
    for (const { digest, requests, lastSeenAt } of reports) {
      const report = this.pending.get(digest)
      if (report === undefined) this.pending.set(digest, { digest, requests, lastSeenAt })
      else {
        report.requests += requests
        report.lastSeenAt = Math.max(report.lastSeenAt, lastSeenAt)
      }
    }
  }

  peek (digest: string): UsageReport | undefined {
    return this.pending.get(digest)
  }
}

import type { HeardChange } from '../interface.js'
import type { PgQueryable } from './client.js'

/**
 * The most changed projects one poll reports. More committed between two polls (a burst of changes while the
 * poll was failing, or a catchUpMs of a minute) make it report null instead: reload everything held.
 */
export const POLL_LIMIT = 1000

export interface PgChanges {
  /** One query: the projects of the namespace written by a transaction that committed since the last poll. */
  poll (): Promise<void>
  /** A change heard by notification, so that the poll does not report it a second time. */
  heard (project: string, version: number): void
}

const versionIn = (heard: Map<string, number>, project: string): number => heard.get(project) ?? 0

/**
 * Finds the changes whose notification was lost. Each announced write stamps its row's `changed` column with
 * its transaction id (txid_current()). Transaction ids are handed out in start order, not commit order, so a
 * watermark on them would skip a transaction that started first and committed last. Instead each poll keeps
 * its snapshot, and the next one asks for the rows whose transaction that snapshot could not see: started at or
 * after its xmax, or in its list of transactions still running (xip). A row the current statement sees was
 * written by a transaction committed now, so those are exactly the rows committed between the two polls, each
 * found once: nothing committed is skipped, and a transaction left open elsewhere (which only holds xmin back)
 * makes no poll read what committed before the previous one. Both conditions are ranges of the (namespace,
 * changed) index. A poll returns at most POLL_LIMIT projects; when more committed, it reports null.
 */
export function pgChanges (pool: PgQueryable, table: string, namespace: string, changed: (project: string | null, change?: HeardChange) => void): PgChanges {
  // LIMIT on each part keeps them apart: the planner then walks the index for each, never the whole namespace.
  const query = `SELECT txid_current_snapshot()::text AS snapshot,
    (SELECT coalesce(json_agg(json_build_array(project, version)), '[]'::json) FROM (
      (SELECT project, version FROM ${table} WHERE namespace = $1 AND changed >= txid_snapshot_xmax($2::txid_snapshot) ORDER BY changed LIMIT ${POLL_LIMIT + 1})
      UNION ALL
      SELECT since.project, since.version FROM txid_snapshot_xip($2::txid_snapshot) AS running (id),
        LATERAL (SELECT project, version FROM ${table} WHERE namespace = $1 AND changed = running.id LIMIT ${POLL_LIMIT + 1}) AS since
      LIMIT ${POLL_LIMIT + 1}) AS page) AS changed`
  /** The previous poll's snapshot; null before the first poll, which only learns where to start from. */
  let previous: string | null = null
  /** The versions heard by notification since the last poll was sent. */
  let heardSince = new Map<string, number>()

  function heard (project: string, version: number): void {
    heardSince.set(project, Math.max(versionIn(heardSince, project), version))
  }

  return {
    heard,
    async poll () {
      // A notification heard before this poll was sent is of a change committed before its snapshot: this poll is
      // the last that can find it. One heard meanwhile may have committed after it: the next poll may find it.
      const before = heardSince
      heardSince = new Map()
      let rows: Array<{ snapshot: string, changed: Array<[string, number]> }>
      try {
        rows = (await pool.query(query, [namespace, previous])).rows
      } catch (error) {
        for (const [project, version] of before) heard(project, version)
        throw error
      }
      previous = rows[0].snapshot
      if (rows[0].changed.length > POLL_LIMIT) {
        changed(null)
        return
      }
      for (const [project, version] of rows[0].changed) {
        // With the version, an instance that holds it already (the writer) reloads nothing.
        if (version > Math.max(versionIn(before, project), versionIn(heardSince, project))) changed(project, { version })
      }
    }
  }
}

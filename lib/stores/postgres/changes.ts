import type { PgQueryable } from './client.js'

/** A horizon no transaction id reaches: the first poll only learns where to start from. */
const NOTHING_YET = '9223372036854775807'

const versionIn = (reported: Map<string, number>, project: string): number => reported.get(project) ?? 0

export interface PgChanges {
  /** One query: the projects of the namespace written by a transaction that committed since the last poll. */
  poll (): Promise<void>
  /** A change heard by notification, so that the poll does not report it a second time. */
  heard (project: string, version: number): void
}

/**
 * Finds the changes whose notification was lost. Each announced write stamps its row's `changed` column with
 * its transaction id (txid_current()). Transaction ids are handed out in start order, not commit order, so a
 * watermark on them would skip a transaction that started first and committed last; instead each poll keeps
 * the oldest transaction still running when its snapshot was taken (the snapshot's xmin), and the next poll
 * asks for every row stamped at or above it. A transaction this poll could not see was running then or started
 * later, so its id is at or above that horizon: nothing committed is skipped. Rows seen again (a long
 * transaction elsewhere holds the horizon back) are reported once, by their version.
 */
export function pgChanges (pool: PgQueryable, table: string, namespace: string, changed: (project: string) => void): PgChanges {
  const query = `SELECT txid_snapshot_xmin(txid_current_snapshot())::text AS horizon,
    (SELECT coalesce(json_agg(json_build_array(project, version)), '[]'::json) FROM ${table} WHERE namespace = $1 AND changed >= $2::bigint) AS changed`
  let horizon = NOTHING_YET
  let reported = new Map<string, number>()

  function heard (project: string, version: number): void {
    reported.set(project, Math.max(versionIn(reported, project), version))
  }

  return {
    heard,
    async poll () {
      const rows: Array<{ horizon: string, changed: Array<[string, number]> }> = (await pool.query(query, [namespace, horizon])).rows
      // Only what this poll saw is kept: a row it did not return is below the horizon, never returned again.
      const before = reported
      reported = new Map()
      horizon = rows[0].horizon
      for (const [project, version] of rows[0].changed) {
        const known = Math.max(versionIn(before, project), versionIn(reported, project))
        reported.set(project, Math.max(known, version))
        if (version > known) changed(project)
      }
    }
  }
}

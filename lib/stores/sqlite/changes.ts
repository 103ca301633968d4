import type { SqliteDatabase } from './database.js'

/** How many of a namespace's last changes the file keeps for connections that have not read them yet. */
export const KEPT_CHANGES = 1000

/** A change read from the log: its number in the namespace, and the project it changed. */
export interface LoggedChange {
  seq: number
  project: string
}

/**
 * A namespace's log of announced changes, in the file, which is how other connections hear of a change: SQLite has
 * no notifications. One row a change, `(namespace, seq, project)`, numbered 1, 2, 3… in each namespace.
 */
export interface ChangeLog {
  /** Within the writer's transaction: records a change of `project` and forgets those beyond the last KEPT_CHANGES. Returns its number. */
  append (project: string): number
  /** The number of the namespace's last change, 0 when it has none. */
  last (): number
  /** The changes numbered after `seq`, oldest first. */
  since (seq: number): LoggedChange[]
}

/** Creates the log table `<table>_changes` if it does not exist, and prepares its statements. */
export function changeLog (database: SqliteDatabase, table: string, namespace: string): ChangeLog {
  const log = `"${table}_changes"`
  database.exec(`CREATE TABLE IF NOT EXISTS ${log} (
    namespace TEXT NOT NULL,
    seq INTEGER NOT NULL,
    project TEXT NOT NULL,
    PRIMARY KEY (namespace, seq)
  ) WITHOUT ROWID`)
  const last = database.prepare(`SELECT coalesce(max(seq), 0) AS seq FROM ${log} WHERE namespace = ?`)
  const insert = database.prepare(`INSERT INTO ${log} (namespace, seq, project) VALUES (?, ?, ?)`)
  const forget = database.prepare(`DELETE FROM ${log} WHERE namespace = ? AND seq <= ?`)
  const since = database.prepare(`SELECT seq, project FROM ${log} WHERE namespace = ? AND seq > ? ORDER BY seq`)
  const lastSeq = (): number => Number((last.get(namespace) as { seq: number }).seq)
  return {
    append (project) {
      const seq = lastSeq() + 1
      insert.run(namespace, seq, project)
      forget.run(namespace, seq - KEPT_CHANGES)
      return seq
    },
    last: lastSeq,
    since (seq) {
      return (since.all(namespace, seq) as LoggedChange[]).map((change) => ({ seq: Number(change.seq), project: change.project }))
    }
  }
}

import type { RetiredKeyRecord } from '../../domain/project.js'
import { RETIRED_RECORD_LIMIT, retiredAt, type RetireKeys } from '../../domain/retention.js'
import { RETIRED_COLUMNS, retiredRecordOf, type RetiredRow } from '../sql/retired-row.js'
import type { SqliteDatabase } from './database.js'

/** A namespace's retired keys in the file: appended to and trimmed by each change, read only on demand. */
export interface RetiredTable {
  /** Within the writer's transaction: appends a change's retired keys, then forgets the old ones. */
  retire (project: string, retire: RetireKeys): void
  /** The project's retired keys, newest retirement first (the greater digest first among equal times). */
  load (project: string): RetiredKeyRecord[]
}

/**
 * Creates `<table>_retired` if it does not exist, keyed (namespace, project, retired_at, digest) so that the
 * primary key's index serves the read and both trims: a change costs the same whatever a project retired before.
 */
export function retiredTable (database: SqliteDatabase, table: string, namespace: string): RetiredTable {
  const retired = `"${table}_retired"`
  database.exec(`CREATE TABLE IF NOT EXISTS ${retired} (
    namespace TEXT NOT NULL,
    project TEXT NOT NULL,
    retired_at INTEGER NOT NULL,
    digest TEXT NOT NULL,
    name TEXT NOT NULL,
    rotated_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER,
    PRIMARY KEY (namespace, project, retired_at, digest)
  ) WITHOUT ROWID`)
  const insert = database.prepare(`INSERT OR IGNORE INTO ${retired} (namespace, project, retired_at, digest, name, rotated_at, expires_at, revoked_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
  const forgetOld = database.prepare(`DELETE FROM ${retired} WHERE namespace = ? AND project = ? AND retired_at <= ?`)
  const forgetBeyondLimit = database.prepare(`DELETE FROM ${retired} WHERE namespace = ? AND project = ? AND (retired_at, digest) <= (
    SELECT retired_at, digest FROM ${retired} WHERE namespace = ? AND project = ?
    ORDER BY retired_at DESC, digest DESC LIMIT 1 OFFSET ?)`)
  const select = database.prepare(`SELECT ${RETIRED_COLUMNS} FROM ${retired}
    WHERE namespace = ? AND project = ? ORDER BY retired_at DESC, digest DESC LIMIT ?`)
  return {
    retire (project, { records, keepAfter }) {
      for (const record of records) {
        insert.run(namespace, project, retiredAt(record), record.digest, record.name, record.rotatedAt, record.expiresAt, record.revokedAt)
      }
      forgetOld.run(namespace, project, keepAfter)
      // Only an append can take a project past the limit.
      if (records.length > 0) forgetBeyondLimit.run(namespace, project, namespace, project, RETIRED_RECORD_LIMIT)
    },
    load (project) {
      return (select.all(namespace, project, RETIRED_RECORD_LIMIT) as RetiredRow[]).map(retiredRecordOf)
    }
  }
}

import type { RetiredKeyRecord } from '../../domain/project.js'

/** The columns of a retired key in the SQL stores' `<table>_retired`, in the order the stores select them. */
export const RETIRED_COLUMNS = 'name, digest, rotated_at, expires_at, revoked_at'

/** A row of those columns; PostgreSQL returns bigint as a string, SQLite an integer as a number. */
export interface RetiredRow {
  name: string
  digest: string
  rotated_at: string | number
  expires_at: string | number
  revoked_at: string | number | null
}

/** A retired key's record, read back from its row. */
export function retiredRecordOf (row: RetiredRow): RetiredKeyRecord {
  return {
    name: row.name,
    digest: row.digest,
    rotatedAt: Number(row.rotated_at),
    expiresAt: Number(row.expires_at),
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at)
  }
}

import { OptionError } from '../../errors/option-errors.js'

/**
 * The part of a SQLite driver the SQLite store uses, described structurally so that `better-sqlite3` stays an
 * optional peer dependency: a `better-sqlite3` `Database` fits, and so does a `node:sqlite` `DatabaseSync`.
 */
export interface SqliteStatement {
  run (...params: any[]): unknown
  get (...params: any[]): unknown
  all (...params: any[]): unknown[]
}

/** A `better-sqlite3` `Database` or a `node:sqlite` `DatabaseSync`. */
export interface SqliteDatabase {
  prepare (sql: string): SqliteStatement
  exec (sql: string): unknown
}

/** How long a change waits for another connection's write lock before it fails, when the database sets no wait. */
export const BUSY_TIMEOUT_MS = 5000

/**
 * Makes a connection that would fail at once on a lock held by another connection (`node:sqlite`'s default) wait
 * instead, as better-sqlite3 does by default. A wait the host chose itself is kept.
 */
export function waitForLocks (database: SqliteDatabase): void {
  const { timeout } = database.prepare('PRAGMA busy_timeout').get() as { timeout: number }
  if (timeout === 0) database.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`)
}

/** A table name of letters, digits and _, checked. */
export function sqliteTableName (value: unknown): string {
  if (typeof value !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(value)) {
    throw new OptionError.INVALID_STORE_OPTION(`fastify-anon-key: sqliteStore() option "tableName" must be a name of letters, digits and _ (at most 63), got ${JSON.stringify(value)}.`)
  }
  return value
}

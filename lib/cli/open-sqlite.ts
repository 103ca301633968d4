import { existsSync } from 'node:fs'
import type { SqliteDatabase } from '../stores/sqlite/database.js'
import { usageError } from './cli-error.js'

/** A connection the CLI opened, and closes. */
export type OpenedDatabase = SqliteDatabase & { close (): void }

/** A SQLite driver the CLI can open a file with: the module, and the export whose `new X(path)` opens one. */
export interface SqliteDriver {
  module: string
  constructor: string
}

/** better-sqlite3 when it is installed, else Node's own `node:sqlite` (Node 22.13 and later, or 22.5 with --experimental-sqlite). */
export const SQLITE_DRIVERS: readonly SqliteDriver[] = [
  { module: 'better-sqlite3', constructor: 'default' },
  { module: 'node:sqlite', constructor: 'DatabaseSync' }
]

/** The file a `sqlite:<path>` URL names: `sqlite:/var/keys.db`, `sqlite:///var/keys.db` or `sqlite:keys.db`. */
export function sqlitePath (url: URL, shown: string): string {
  if (url.host !== '' || url.pathname === '' || url.pathname === '/') {
    throw usageError(`The store ${shown} names no file.`, 'Write sqlite:/absolute/path/keys.db, or sqlite:keys.db for a file in the current folder.')
  }
  return decodeURIComponent(url.pathname)
}

/**
 * Opens the database file the app uses with the first driver that loads. The file must exist: the CLI never
 * makes an empty database that the app would not see.
 */
export async function openSqliteFile (path: string, drivers: readonly SqliteDriver[] = SQLITE_DRIVERS): Promise<OpenedDatabase> {
  if (!existsSync(path)) {
    throw usageError(`--store sqlite:${path}: there is no such file.`, 'Point --store at the database file your app opens (sqlite:/absolute/path/keys.db).')
  }
  for (const driver of drivers) {
    let loaded: Record<string, new (path: string) => OpenedDatabase>
    try {
      loaded = await import(driver.module)
    } catch {
      continue
    }
    return new loaded[driver.constructor](path)
  }
  throw usageError(`--store sqlite:… needs a SQLite driver, and neither ${drivers.map((driver) => driver.module).join(' nor ')} is available here.`,
    'Install better-sqlite3 next to fastify-anon-key (npm install better-sqlite3@12, then npm install-scripts approve better-sqlite3), or run Node 22.13 or later, which has node:sqlite.')
}

import Database from 'better-sqlite3'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

type Teardown = { teardown: (fn: () => unknown) => void }

/** A path for a database file in a new folder under os.tmpdir(); the folder goes, with the file, when the test ends. */
export function sqliteFile (t: Teardown): string {
  const folder = mkdtempSync(join(tmpdir(), 'anon-key-sqlite-'))
  t.teardown(() => rmSync(folder, { recursive: true, force: true }))
  return join(folder, 'keys.db')
}

/**
 * A better-sqlite3 connection to `file`, in WAL mode as docs/sqlite.md advises (or in SQLite's default, a rollback
 * journal, with `journalMode: 'DELETE'`), closed when the test ends.
 */
export function openDatabase (t: Teardown, file: string, { journalMode = 'WAL', ...options }: Database.Options & { journalMode?: 'WAL' | 'DELETE' } = {}): Database.Database {
  const database = new Database(file, options)
  database.pragma(`journal_mode = ${journalMode}`)
  database.pragma('synchronous = NORMAL')
  t.teardown(() => { database.close() })
  return database
}

import type { SqliteDatabase } from './database.js'

/**
 * The notice a store logs at start-up when its file is not in WAL mode, or null. In SQLite's default
 * rollback-journal mode a writer's lock stops every reader: this process then waits for other processes' writes
 * (admin calls take longer, a change is heard a poll later). A database in memory has no other process: no notice.
 */
export function journalNotice (database: SqliteDatabase): string | null {
  const main = (database.prepare('PRAGMA database_list').all() as Array<{ name: string, file: string }>).find((entry) => entry.name === 'main')
  if (main === undefined || main.file === '') return null
  const { journal_mode: mode } = database.prepare('PRAGMA journal_mode').get() as { journal_mode: string }
  if (mode.toLowerCase() === 'wal') return null
  return `fastify-anon-key: sqliteStore's file ${main.file} is in journal mode "${mode}", not WAL: while another process ` +
    'writes to it, this one cannot read it (admin calls wait, a change is heard a poll later). ' +
    'Run database.pragma(\'journal_mode = WAL\') once; the file keeps it.'
}

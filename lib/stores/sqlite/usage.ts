import type { UsageBatch, UsageHistory } from '../../domain/usage-history.js'
import { historyOf, hourRowsOf, keyRowsOf } from '../sql/usage-rows.js'
import type { SqliteDatabase } from './database.js'

/** A namespace's usage history in the file: hourly counts and last uses, in two tables beside the projects'. */
export interface UsageTables {
  /** Within the caller's transaction: adds a batch to what other connections wrote, then trims. */
  record (project: string, batch: UsageBatch): void
  load (project: string): UsageHistory
}

/** Creates `<table>_usage` and `<table>_usage_keys` if they do not exist, keyed like the PostgreSQL store's. */
export function usageTables (database: SqliteDatabase, table: string, namespace: string): UsageTables {
  const hours = `"${table}_usage"`
  const keys = `"${table}_usage_keys"`
  database.exec(`CREATE TABLE IF NOT EXISTS ${hours} (
    namespace TEXT NOT NULL,
    project TEXT NOT NULL,
    hour INTEGER NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    requests INTEGER NOT NULL,
    PRIMARY KEY (namespace, project, hour, kind, name, fingerprint)
  ) WITHOUT ROWID`)
  database.exec(`CREATE TABLE IF NOT EXISTS ${keys} (
    namespace TEXT NOT NULL,
    project TEXT NOT NULL,
    name TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    last_used_at INTEGER NOT NULL,
    previous_requests INTEGER NOT NULL,
    PRIMARY KEY (namespace, project, name, fingerprint)
  ) WITHOUT ROWID`)
  const addHour = database.prepare(`INSERT INTO ${hours} (namespace, project, hour, kind, name, fingerprint, requests) VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (namespace, project, hour, kind, name, fingerprint) DO UPDATE SET requests = requests + excluded.requests`)
  const addKey = database.prepare(`INSERT INTO ${keys} (namespace, project, name, fingerprint, last_used_at, previous_requests) VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (namespace, project, name, fingerprint) DO UPDATE SET
      last_used_at = max(last_used_at, excluded.last_used_at), previous_requests = previous_requests + excluded.previous_requests`)
  const forgetHours = database.prepare(`DELETE FROM ${hours} WHERE namespace = ? AND project = ? AND hour < ?`)
  const forgetKeys = database.prepare(`DELETE FROM ${keys} WHERE namespace = ? AND project = ? AND last_used_at < ?`)
  const selectHours = database.prepare(`SELECT hour, kind, name, fingerprint, requests FROM ${hours} WHERE namespace = ? AND project = ?`)
  const selectKeys = database.prepare(`SELECT name, fingerprint, last_used_at, previous_requests FROM ${keys} WHERE namespace = ? AND project = ?`)
  return {
    record (project, batch) {
      for (const row of hourRowsOf(batch)) addHour.run(namespace, project, row.hour, row.kind, row.name, row.fingerprint, row.requests)
      for (const row of keyRowsOf(batch)) addKey.run(namespace, project, row.name, row.fingerprint, row.last_used_at, row.previous_requests)
      forgetHours.run(namespace, project, batch.keepHoursFrom)
      forgetKeys.run(namespace, project, batch.keepKeysFrom)
    },
    load (project) {
      return historyOf(selectHours.all(namespace, project) as any[], selectKeys.all(namespace, project) as any[])
    }
  }
}

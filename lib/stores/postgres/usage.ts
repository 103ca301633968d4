import type { UsageBatch, UsageHistory } from '../../domain/usage-history.js'
import { historyOf, hourRowsOf, keyRowsOf } from '../sql/usage-rows.js'
import { inTransaction, type PgPool, type PgQueryable } from './client.js'

/** A namespace's usage history in PostgreSQL: hourly counts and last uses, in two tables beside the projects'. */
export interface PgUsage {
  /** Creates the tables if they do not exist, within the store's table set-up. */
  create (client: PgQueryable): Promise<void>
  record (project: string, batch: UsageBatch): Promise<void>
  load (project: string): Promise<UsageHistory>
}

/**
 * `<table>_usage` holds one row per (project, hour, kind, name, fingerprint), `<table>_usage_keys` one per
 * (project, name, fingerprint). A batch is one transaction: upserts that add to what other instances wrote
 * (rows in the primary key's order, so that concurrent batches never deadlock), then the trim, on the primary keys' indexes.
 */
export function pgUsage (pool: PgPool, hoursTable: string, keysTable: string, namespace: string): PgUsage {
  return {
    async create (client) {
      await client.query(`CREATE TABLE IF NOT EXISTS ${hoursTable} (
        namespace text NOT NULL,
        project text NOT NULL,
        hour bigint NOT NULL,
        kind text NOT NULL,
        name text NOT NULL,
        fingerprint text NOT NULL,
        requests bigint NOT NULL,
        PRIMARY KEY (namespace, project, hour, kind, name, fingerprint)
      )`)
      await client.query(`CREATE TABLE IF NOT EXISTS ${keysTable} (
        namespace text NOT NULL,
        project text NOT NULL,
        name text NOT NULL,
        fingerprint text NOT NULL,
        last_used_at bigint NOT NULL,
        previous_requests bigint NOT NULL,
        PRIMARY KEY (namespace, project, name, fingerprint)
      )`)
    },
    async record (project, batch) {
      const hours = hourRowsOf(batch)
      const keys = keyRowsOf(batch)
      await inTransaction(pool, async (client) => {
        if (hours.length > 0) {
          await client.query(`INSERT INTO ${hoursTable} AS held (namespace, project, hour, kind, name, fingerprint, requests)
            SELECT $1, $2, r.hour, r.kind, r.name, r.fingerprint, r.requests
            FROM jsonb_to_recordset($3::jsonb) AS r(hour bigint, kind text, name text, fingerprint text, requests bigint)
            ORDER BY r.hour, r.kind, r.name, r.fingerprint
            ON CONFLICT (namespace, project, hour, kind, name, fingerprint) DO UPDATE SET requests = held.requests + excluded.requests`,
          [namespace, project, JSON.stringify(hours)])
        }
        if (keys.length > 0) {
          await client.query(`INSERT INTO ${keysTable} AS held (namespace, project, name, fingerprint, last_used_at, previous_requests)
            SELECT $1, $2, r.name, r.fingerprint, r.last_used_at, r.previous_requests
            FROM jsonb_to_recordset($3::jsonb) AS r(name text, fingerprint text, last_used_at bigint, previous_requests bigint)
            ORDER BY r.name, r.fingerprint
            ON CONFLICT (namespace, project, name, fingerprint) DO UPDATE SET
              last_used_at = GREATEST(held.last_used_at, excluded.last_used_at),
              previous_requests = held.previous_requests + excluded.previous_requests`,
          [namespace, project, JSON.stringify(keys)])
        }
        await client.query(`DELETE FROM ${hoursTable} WHERE namespace = $1 AND project = $2 AND hour < $3`, [namespace, project, batch.keepHoursFrom])
        await client.query(`DELETE FROM ${keysTable} WHERE namespace = $1 AND project = $2 AND last_used_at < $3`, [namespace, project, batch.keepKeysFrom])
      })
    },
    async load (project) {
      const [hours, keys] = await Promise.all([
        pool.query(`SELECT hour, kind, name, fingerprint, requests FROM ${hoursTable} WHERE namespace = $1 AND project = $2`, [namespace, project]),
        pool.query(`SELECT name, fingerprint, last_used_at, previous_requests FROM ${keysTable} WHERE namespace = $1 AND project = $2`, [namespace, project])
      ])
      return historyOf(hours.rows, keys.rows)
    }
  }
}

import type { PgPool, PgQueryable } from './postgres-client.js'
import { inTransaction, quoteIdentifier } from './postgres-client.js'
import { PgListener } from './postgres-listener.js'
import { OptionError } from '../option-errors.js'
import { checkStoreOptions, requireMethods } from './store-options.js'
import type { AnonKeySnapshot, AnonKeyStore } from './store.js'
import { revokeState, rotateState, type KeyState } from './transitions.js'

export interface PostgresStoreOptions {
  /**
   * A `pg.Pool` (or a pool with the same `query()` and `connect()`). The store runs its queries on it, checks
   * out one connection for LISTEN while anyone is subscribed (so the pool needs room for it: max >= 2), and
   * never ends it. It adds an 'error' listener to the pool so that an idle connection dropped by the server
   * cannot crash the process (pg discards such a connection by itself).
   */
  pool: PgPool
  /** Separates apps that share one database. Default: 'default'. */
  namespace?: string
  /** The table, created on first use: `name` or `schema.name`. Default: 'anon_key_store'. */
  tableName?: string
  /** The LISTEN/NOTIFY channel; the payload is the namespace. Default: 'anon_key_changes'. */
  channel?: string
}

type Row = { current_key: string, version: string, previous_keys: KeyState['previousKeys'] }

function snapshotOf (row: Row | undefined): AnonKeySnapshot {
  if (row === undefined) return { version: 0, currentKey: null, previousKeys: [] }
  return { version: Number(row.version), currentKey: row.current_key, previousKeys: row.previous_keys }
}

/** A `pg.Client` has query() and connect() like a pool, but its connect() gives no connection to release. */
function isSingleClient (pool: PgPool): boolean {
  return 'connectionParameters' in pool && !('totalCount' in pool)
}

/**
 * A store on PostgreSQL. One row a namespace: the current key, a version, and the previous keys as a jsonb
 * array of `{ digest, rotatedAt, expiresAt, revokedAt }` (SHA-256 digests, times in ms), plus `requests` and
 * `lastSeenAt` once recordUsage reported a key. A row exists once the namespace has a key. Rotate and revoke
 * lock the row (SELECT ... FOR UPDATE), compute the next state with the
 * shared transitions and write it back in the same transaction, so concurrent changes from any number of
 * instances serialize and none fails. Every change sends pg_notify(channel, namespace) in its transaction,
 * delivered to listeners when it commits.
 */
export function postgresStore (options: PostgresStoreOptions): AnonKeyStore {
  checkStoreOptions('postgresStore', options, ['pool', 'namespace', 'tableName', 'channel'], 'postgresStore({ pool: new pg.Pool({ connectionString }) })')
  const pool = options.pool
  requireMethods('postgresStore', 'pool', pool, ['query', 'connect'], 'a pg Pool (an object with query() and connect())', 'Pass new pg.Pool({ connectionString }).')
  if (isSingleClient(pool)) {
    throw new OptionError.INVALID_STORE_OPTION('fastify-anon-key: postgresStore() option "pool" must be a pg Pool, and it is a single pg.Client: ' +
      'the store checks connections out of a pool (one for LISTEN, one per change). Pass new pg.Pool({ connectionString }) instead of new pg.Client(...).')
  }
  const namespace = options.namespace ?? 'default'
  if (typeof namespace !== 'string' || namespace.length === 0 || namespace.length > 200) {
    throw new OptionError.INVALID_STORE_OPTION(`fastify-anon-key: postgresStore option "namespace" must be a string of 1 to 200 characters, got ${JSON.stringify(namespace)}.`)
  }
  const table = quoteIdentifier('tableName', options.tableName ?? 'anon_key_store', true)
  const channelName = options.channel ?? 'anon_key_changes'
  const channel = quoteIdentifier('channel', channelName, false)
  const listeners = new Set<() => void>()
  let listener: PgListener | null = null
  let listening: Promise<void> | null = null
  let tableReady: Promise<void> | null = null
  const ignorePoolError = (): void => {}
  pool.on?.('error', ignorePoolError)

  /** Creates the table once; an advisory lock keeps instances that start together from racing on it. */
  function ensureTable (): Promise<void> {
    tableReady ??= inTransaction(pool, async (client) => {
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`fastify-anon-key:${table}`])
      await client.query(`CREATE TABLE IF NOT EXISTS ${table} (
        namespace text PRIMARY KEY,
        current_key text NOT NULL,
        version bigint NOT NULL,
        previous_keys jsonb NOT NULL DEFAULT '[]'::jsonb
      )`)
    }).catch((error: unknown) => {
      tableReady = null
      throw error
    })
    return tableReady
  }

  async function read (client: PgQueryable, lock: string): Promise<AnonKeySnapshot> {
    const result = await client.query(`SELECT current_key, version, previous_keys FROM ${table} WHERE namespace = $1 ${lock}`, [namespace])
    return snapshotOf(result.rows[0])
  }

  /** Writes the next state of a row locked by `read(client, 'FOR UPDATE')` and announces it. */
  async function write (client: PgQueryable, next: KeyState): Promise<AnonKeySnapshot> {
    const result = await client.query(
      `WITH updated AS (
        UPDATE ${table} SET current_key = $2, previous_keys = $3::jsonb, version = version + 1 WHERE namespace = $1
        RETURNING current_key, version, previous_keys
      ) SELECT updated.*, pg_notify($4, $1) FROM updated`,
      [namespace, next.currentKey, JSON.stringify(next.previousKeys), channelName])
    return snapshotOf(result.rows[0])
  }

  function notifyAll (): void {
    for (const notify of listeners) notify()
  }

  function stopListening (): void {
    listener?.stop()
    listener = null
    listening = null
  }

  return {
    namespace,
    async load () {
      await ensureTable()
      return read(pool, '')
    },
    async initialize (key) {
      await ensureTable()
      await pool.query(
        `WITH inserted AS (
          INSERT INTO ${table} (namespace, current_key, version) VALUES ($1, $2, 1) ON CONFLICT (namespace) DO NOTHING
          RETURNING namespace
        ) SELECT pg_notify($3, namespace) FROM inserted`,
        [namespace, key, channelName])
      return read(pool, '')
    },
    async rotate (change) {
      await ensureTable()
      return inTransaction(pool, async (client) => {
        const result = rotateState(await read(client, 'FOR UPDATE'), change)
        if (result === null) return null
        return { snapshot: await write(client, result.state), retired: result.retired, evicted: result.evicted }
      })
    },
    async revoke (change) {
      await ensureTable()
      return inTransaction(pool, async (client) => {
        const before = await read(client, 'FOR UPDATE')
        const result = revokeState(before, change)
        if (result.revoked.length === 0) return { snapshot: before, revoked: [] }
        return { snapshot: await write(client, result.state), revoked: result.revoked }
      })
    },
    async recordUsage (reports) {
      await ensureTable()
      await inTransaction(pool, async (client) => {
        const { previousKeys } = await read(client, 'FOR UPDATE')
        const byDigest = new Map(previousKeys.map((record) => [record.digest, record]))
        for (const report of reports) {
          const record = byDigest.get(report.digest)
          if (record === undefined) continue
          record.requests = (record.requests ?? 0) + report.requests
          record.lastSeenAt = Math.max(record.lastSeenAt ?? 0, report.lastSeenAt)
        }
        // Usage figures are not a change of keys: no new version, no notification.
        await client.query(`UPDATE ${table} SET previous_keys = $2::jsonb WHERE namespace = $1`, [namespace, JSON.stringify(previousKeys)])
      })
    },
    async subscribe (notify) {
      listeners.add(notify)
      if (listener === null) {
        listener = new PgListener({
          pool,
          channel,
          onNotification: (payload) => { if (payload === namespace) notifyAll() },
          onReconnected: notifyAll
        })
        listening = listener.start()
      }
      try {
        await listening
      } catch (error) {
        listeners.delete(notify)
        stopListening()
        throw error
      }
      return async () => {
        listeners.delete(notify)
        if (listeners.size === 0) stopListening()
      }
    },
    async close () {
      listeners.clear()
      stopListening()
      pool.removeListener?.('error', ignorePoolError)
    }
  }
}

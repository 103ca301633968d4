import { emptyProject, fromLegacy, type PreviousKeyRecord, type ProjectState } from '../../domain/project.js'
import { RETIRED_RECORD_LIMIT, type RetireKeys } from '../../domain/retention.js'
import type { PgPool, PgQueryable } from './client.js'
import { inTransaction, quoteIdentifier } from './client.js'
import { pgChanges } from './changes.js'
import { PgListener } from './listener.js'
import { RETIRED_COLUMNS, retiredRecordOf, type RetiredRow } from '../sql/retired-row.js'
import { sendProbe, type PgProbe } from './probe.js'
import { pgUsage } from './usage.js'
import { catchUpMsOption, startCatchUp } from '../catch-up.js'
import { OptionError } from '../../errors/option-errors.js'
import { checkStoreOptions, namespaceOption, requireMethods } from '../factory-options.js'
import { markStore } from '../kind.js'
import type { AnonKeyStore, ChangeListener, HeardChange, ProjectSnapshot, StoreLog } from '../interface.js'

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
  /**
   * The table, created on first use: `name` or `schema.name`. Default: 'anon_key_projects'. The retired keys go
   * to a second table beside it, `<name>_retired`, and the usage history to `<name>_usage` and `<name>_usage_keys`.
   */
  tableName?: string
  /** The table release 0.1 wrote, read once to migrate a namespace: `name` or `schema.name`. Default: 'anon_key_store'. */
  legacyTableName?: string
  /** The LISTEN/NOTIFY channel; the payload is `[namespace, project, version, revision]` as JSON. Default: 'anon_key_changes'. */
  channel?: string
  /**
   * A pool on a direct or session-mode connection, for the one LISTEN connection only, when `pool` goes
   * through a transaction-mode pooler (where LISTEN hears nothing). Default: `pool`. Never ended by the store.
   */
  listenPool?: PgPool
  /** How often the store polls for a change whose notification was lost, in ms (50 to 60,000). Default: 1000. */
  catchUpMs?: number
  /**
   * false: open no LISTEN connection at all and hear every change of another instance through the poll alone,
   * within about `catchUpMs`: for a fleet larger than the server's max_connections allows one listening
   * connection each, or a pooler with no direct connection. Default: true.
   */
  listen?: boolean
}

type Row = { version: string, state: ProjectState }
type LegacyRow = { current_key: string, version: string, previous_keys: PreviousKeyRecord[] }

/** A `pg.Client` has query() and connect() like a pool, but its connect() gives no connection to release. */
function isSingleClient (pool: PgPool): boolean {
  return 'connectionParameters' in pool && !('totalCount' in pool)
}

/** The option `pool` or `listenPool`, refused unless it is a pool. */
function checkPool (option: string, pool: unknown): PgPool {
  requireMethods('postgresStore', option, pool, ['query', 'connect'], 'a pg Pool (an object with query() and connect())', 'Pass new pg.Pool({ connectionString }).')
  if (isSingleClient(pool as PgPool)) {
    throw new OptionError.INVALID_STORE_OPTION(`fastify-anon-key: postgresStore() option "${option}" must be a pg Pool, and it is a single pg.Client: ` +
      'the store checks connections out of a pool (one for LISTEN, one per change). Pass new pg.Pool({ connectionString }) instead of new pg.Client(...).')
  }
  return pool as PgPool
}

/** The option `listen`, checked: a boolean, and not false beside a `listenPool` it would never use. */
function listenOption ({ listen, listenPool }: PostgresStoreOptions): boolean {
  if (listen === undefined) return true
  if (typeof listen !== 'boolean') {
    throw new OptionError.INVALID_STORE_OPTION(`fastify-anon-key: postgresStore() option "listen" must be true or false, got ${JSON.stringify(listen)}. ` +
      'Leave it out to listen for notifications; pass false to rely on the poll alone.')
  }
  if (!listen && listenPool !== undefined) {
    throw new OptionError.INVALID_STORE_OPTION('fastify-anon-key: postgresStore() options "listen: false" and "listenPool" contradict each other: ' +
      'listenPool is the pool of the LISTEN connection, and listen: false opens none. Pass one or the other.')
  }
  return listen
}

/**
 * A store on PostgreSQL. One row a project: `(namespace, project, version, state jsonb)`, the state being the
 * project document (previous keys as SHA-256 digests only). `update` runs in one transaction: it locks the
 * project's row (SELECT ... FOR UPDATE; a first write inserts the row first with ON CONFLICT DO NOTHING, so
 * concurrent first writes serialize too), applies the change and writes the document back, and sends
 * pg_notify(channel, [namespace, project, version]) in the same transaction, delivered when it commits. One
 * LISTEN connection per store serves every project; a poll every `catchUpMs` finds a change whose notification
 * was lost (see changes.ts), and a probe at start-up tells a LISTEN that hears nothing (a pooler). With
 * `listen: false` there is no LISTEN connection and no probe: the poll alone brings every change.
 *
 * Retired keys: one row each in `<table>_retired`, keyed (namespace, project, retired_at, digest), so that the
 * primary key's index serves the read (newest first) and the trim. A change appends its rows and trims in the
 * same transaction: the cost of a write does not depend on how many rows a project has retired.
 *
 * Release 0.1 kept one row a namespace in `anon_key_store`. While a namespace's single project has never been
 * written here, its 0.1 row is read instead, as the `default` key, at the 0.1 row's version; the first update
 * writes it here. The 0.1 row is left as it was.
 */
export function postgresStore (options: PostgresStoreOptions): AnonKeyStore {
  checkStoreOptions('postgresStore', options, ['pool', 'namespace', 'tableName', 'legacyTableName', 'channel', 'listenPool', 'catchUpMs', 'listen'],
    'postgresStore({ pool: new pg.Pool({ connectionString }) })')
  const pool = checkPool('pool', options.pool)
  const listen = listenOption(options)
  const listenPool = options.listenPool === undefined ? pool : checkPool('listenPool', options.listenPool)
  const catchUpMs = catchUpMsOption('postgresStore', options.catchUpMs)
  const namespace = namespaceOption('postgresStore', options.namespace)
  const table = quoteIdentifier('tableName', options.tableName ?? 'anon_key_projects', true)
  const retiredTable = quoteIdentifier('tableName', `${options.tableName ?? 'anon_key_projects'}_retired`, true)
  const usage = pgUsage(pool,
    quoteIdentifier('tableName', `${options.tableName ?? 'anon_key_projects'}_usage`, true),
    quoteIdentifier('tableName', `${options.tableName ?? 'anon_key_projects'}_usage_keys`, true),
    namespace)
  const legacyTable = quoteIdentifier('legacyTableName', options.legacyTableName ?? 'anon_key_store', true)
  const channelName = options.channel ?? 'anon_key_changes'
  const channel = quoteIdentifier('channel', channelName, false)
  // An index lives in its table's schema; its name is the table's, cut so that it stays within 63 characters.
  const changedIndex = `"${(options.tableName ?? 'anon_key_projects').split('.').pop()?.slice(0, 50) as string}_changed"`
  const listeners = new Set<ChangeListener>()
  /** The subscribers' `onPoll`, told of each poll that succeeded. */
  const polled = new Map<ChangeListener, () => void>()
  const changes = pgChanges(pool, table, namespace, notifyAll)
  let listener: PgListener | null = null
  let listening: Promise<void> | null = null
  let probe: PgProbe | null = null
  let stopCatchUp: (() => void) | null = null
  let log: StoreLog | undefined
  /** Counts the stops, so that a start still under way knows it was stopped. */
  let generation = 0
  let tableReady: Promise<void> | null = null
  const ignorePoolError = (): void => {}
  pool.on?.('error', ignorePoolError)

  /**
   * Creates the table once, or adds the `changed` column (the transaction id of the last announced write, which
   * the catch-up poll reads) to a table made before it; an advisory lock keeps instances that start together from
   * racing on it. A table that has the column is only looked at, so a start-up takes no lock on it.
   */
  function ensureTable (): Promise<void> {
    tableReady ??= inTransaction(pool, async (client) => {
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`fastify-anon-key:${table}`])
      const found = await client.query(`SELECT to_regclass($1) IS NOT NULL AS present,
        EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'changed' AND NOT attisdropped) AS current`, [table])
      const { present, current } = found.rows[0] as { present: boolean, current: boolean }
      if (!current) {
        if (present) {
          await client.query(`ALTER TABLE ${table} ADD COLUMN changed bigint`)
        } else {
          await client.query(`CREATE TABLE ${table} (
            namespace text NOT NULL,
            project text NOT NULL,
            version bigint NOT NULL,
            state jsonb NOT NULL,
            changed bigint,
            PRIMARY KEY (namespace, project)
          )`)
        }
        await client.query(`CREATE INDEX ${changedIndex} ON ${table} (namespace, changed)`)
      }
      await client.query(`CREATE TABLE IF NOT EXISTS ${retiredTable} (
        namespace text NOT NULL,
        project text NOT NULL,
        retired_at bigint NOT NULL,
        digest text NOT NULL,
        name text NOT NULL,
        rotated_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        revoked_at bigint,
        PRIMARY KEY (namespace, project, retired_at, digest)
      )`)
      await usage.create(client)
    }).catch((error: unknown) => {
      tableReady = null
      throw error
    })
    return tableReady
  }

  /** The project's row, or (for a project never written) its 0.1 state, or an empty project. */
  async function read (client: PgQueryable, project: string, lock: string): Promise<ProjectSnapshot | null> {
    const result = await client.query(`SELECT version, state FROM ${table} WHERE namespace = $1 AND project = $2 ${lock}`, [namespace, project])
    const row = result.rows[0] as Row | undefined
    if (row === undefined) return null
    const version = Number(row.version)
    if (version === 0) return readLegacy(client, project)
    return { version, state: row.state }
  }

  async function readLegacy (client: PgQueryable, project: string): Promise<ProjectSnapshot> {
    if (project !== '') return { version: 0, state: emptyProject() }
    const exists = await client.query('SELECT to_regclass($1) IS NOT NULL AS present', [legacyTable])
    if (exists.rows[0].present !== true) return { version: 0, state: emptyProject() }
    const result = await client.query(`SELECT current_key, version, previous_keys FROM ${legacyTable} WHERE namespace = $1`, [namespace])
    const row = result.rows[0] as LegacyRow | undefined
    if (row === undefined) return { version: 0, state: emptyProject() }
    return { version: Number(row.version), state: fromLegacy({ currentKey: row.current_key, previousKeys: row.previous_keys }, Date.now()) }
  }

  /** Locks the project's row, inserting an unwritten one (version 0) first if there is none. */
  async function lock (client: PgQueryable, project: string): Promise<ProjectSnapshot> {
    const held = await read(client, project, 'FOR UPDATE')
    if (held !== null) return held
    await client.query(`INSERT INTO ${table} (namespace, project, version, state) VALUES ($1, $2, 0, $3::jsonb) ON CONFLICT DO NOTHING`,
      [namespace, project, JSON.stringify(emptyProject())])
    return await read(client, project, 'FOR UPDATE') as ProjectSnapshot
  }

  /**
   * Appends a change's retired keys, then forgets the old ones, on the primary key's index. Only an append can
   * take a project past the limit, so a change that retires nothing only forgets by age: a range of the index.
   * Keeping the 1,000 newest walks the project's index entries to the 1,001st (about 0.3 ms at 1,000).
   */
  async function retire (client: PgQueryable, project: string, { records, keepAfter }: RetireKeys): Promise<void> {
    if (records.length === 0) {
      await client.query(`DELETE FROM ${retiredTable} WHERE namespace = $1 AND project = $2 AND retired_at <= $3`, [namespace, project, keepAfter])
      return
    }
    await client.query(`INSERT INTO ${retiredTable} (namespace, project, retired_at, digest, name, rotated_at, expires_at, revoked_at)
      SELECT $1, $2, coalesce(r."revokedAt", r."expiresAt"), r.digest, r.name, r."rotatedAt", r."expiresAt", r."revokedAt"
      FROM jsonb_to_recordset($3::jsonb) AS r(digest text, name text, "rotatedAt" bigint, "expiresAt" bigint, "revokedAt" bigint)
      ON CONFLICT DO NOTHING`, [namespace, project, JSON.stringify(records)])
    await client.query(`DELETE FROM ${retiredTable} WHERE namespace = $1 AND project = $2 AND (retired_at <= $3 OR (retired_at, digest) <= (
      SELECT retired_at, digest FROM ${retiredTable} WHERE namespace = $1 AND project = $2
      ORDER BY retired_at DESC, digest DESC OFFSET $4 LIMIT 1))`, [namespace, project, keepAfter, RETIRED_RECORD_LIMIT])
  }

  function notifyAll (project: string | null, change?: HeardChange): void {
    for (const notify of listeners) notify(project, change)
  }

  function heard (payload: string): void {
    let parsed: unknown
    try {
      parsed = JSON.parse(payload)
    } catch {
      return // someone else's notification on a shared channel
    }
    if (!Array.isArray(parsed) || parsed[0] !== namespace || probe?.heard(parsed) === true || typeof parsed[1] !== 'string') return
    if (typeof parsed[2] !== 'number') {
      notifyAll(parsed[1])
      return
    }
    changes.heard(parsed[1], parsed[2])
    notifyAll(parsed[1], { version: parsed[2], revision: typeof parsed[3] === 'string' ? parsed[3] : undefined })
  }

  /** LISTENs, learns where the catch-up poll starts, sends the probe; a close meanwhile (a new generation) stops it there. */
  async function startListening (): Promise<void> {
    const current = generation
    await ensureTable()
    if (generation !== current) return
    if (listen) {
      listener = new PgListener({
        pool: listenPool,
        channel,
        onNotification: heard,
        onReconnected: () => notifyAll(null)
      })
      await listener.start()
    }
    await changes.poll()
    if (generation !== current) return
    if (listen) probe = sendProbe(pool, channelName, namespace, log)
    stopCatchUp = startCatchUp({ everyMs: catchUpMs, poll: changes.poll, log, store: 'postgresStore', onPoll: () => { for (const onPoll of polled.values()) onPoll() } })
  }

  function stopListening (): void {
    generation += 1
    listener?.stop()
    probe?.stop()
    stopCatchUp?.()
    listener = null
    listening = null
    probe = null
    stopCatchUp = null
  }

  return markStore({
    namespace,
    async load (project) {
      await ensureTable()
      return await read(pool, project, '') ?? await readLegacy(pool, project)
    },
    async update (project, change) {
      await ensureTable()
      return inTransaction(pool, async (client) => {
        const before = await lock(client, project)
        const step = change(before.state)
        if (!('next' in step)) return { snapshot: before, result: step.result }
        const version = before.version + 1
        const announce = step.announce !== false
        await client.query(`UPDATE ${table} SET version = $3, state = $4::jsonb, changed = CASE WHEN $5 THEN txid_current() ELSE changed END WHERE namespace = $1 AND project = $2`,
          [namespace, project, version, JSON.stringify(step.next), announce])
        if (step.retire !== undefined) await retire(client, project, step.retire)
        if (announce) await client.query('SELECT pg_notify($1, $2)', [channelName, JSON.stringify([namespace, project, version, step.next.revision ?? null])])
        return { snapshot: { version, state: step.next }, result: step.result }
      })
    },
    async loadRetired (project) {
      await ensureTable()
      const result = await pool.query(`SELECT ${RETIRED_COLUMNS} FROM ${retiredTable}
        WHERE namespace = $1 AND project = $2 ORDER BY retired_at DESC, digest DESC LIMIT $3`, [namespace, project, RETIRED_RECORD_LIMIT])
      return (result.rows as RetiredRow[]).map(retiredRecordOf)
    },
    async recordUsage (project, batch) {
      await ensureTable()
      await usage.record(project, batch)
    },
    async loadUsage (project) {
      await ensureTable()
      return usage.load(project)
    },
    async subscribe (notify, subscribeOptions) {
      listeners.add(notify)
      if (subscribeOptions?.onPoll !== undefined) polled.set(notify, subscribeOptions.onPoll)
      log ??= subscribeOptions?.log
      listening ??= startListening()
      try {
        await listening
      } catch (error) {
        listeners.delete(notify)
        polled.delete(notify)
        stopListening()
        throw error
      }
      return async () => {
        listeners.delete(notify)
        polled.delete(notify)
        if (listeners.size === 0) stopListening()
      }
    },
    async close () {
      listeners.clear()
      polled.clear()
      stopListening()
      pool.removeListener?.('error', ignorePoolError)
    }
  }, 'postgres')
}

import { emptyProject, type ProjectState } from '../../domain/project.js'
import { catchUpMsOption, startCatchUp } from '../catch-up.js'
import { changeLog, type ChangeLog } from './changes.js'
import { sqliteTableName, waitForLocks, type SqliteDatabase, type SqliteStatement } from './database.js'
import { retiredTable, type RetiredTable } from './retired.js'
import { usageTables, type UsageTables } from './usage.js'
import { isBusy, lockFree, type LockFree } from './lock-free.js'
import { journalNotice } from './journal-notice.js'
import { checkStoreOptions, namespaceOption, requireMethods } from '../factory-options.js'
import { markStore } from '../kind.js'
import type { AnonKeyStore, ChangeListener, HeardChange, ProjectSnapshot, StateChange } from '../interface.js'

export interface SqliteStoreOptions {
  /**
   * A `better-sqlite3` `Database` (or a `node:sqlite` `DatabaseSync`) on a file. The store never closes it. On
   * another connection's lock the store waits up to the connection's busy timeout (5 s when it sets none), between
   * turns of the event loop. WAL mode (`database.pragma('journal_mode = WAL')`) is recommended.
   */
  database: SqliteDatabase
  /** Separates apps that share one file. Default: 'default'. */
  namespace?: string
  /**
   * The table, created on first use with its log of changes `<tableName>_changes`, its retired keys
   * `<tableName>_retired` and its usage history `<tableName>_usage` and `<tableName>_usage_keys`. Default: 'anon_key_projects'.
   */
  tableName?: string
  /** How often, in ms, the store asks the file for changes made by other connections while anyone is subscribed. Default: 1000. */
  catchUpMs?: number
}

type Row = { version: number, state: string }

/** The statements of one store, prepared once the tables exist. */
interface Statements {
  read: SqliteStatement
  write: SqliteStatement
  log: ChangeLog
  retired: RetiredTable
  usage: UsageTables
  locks: LockFree
}

/**
 * A store on SQLite, for one host: the keys survive restarts, and every process that opens the file shares them.
 * One row a project: `(namespace, project, version, state)`, the state being the project document (previous keys
 * as SHA-256 digests only). `update` runs in one `BEGIN IMMEDIATE` transaction, which takes the file's write lock
 * first, so changes from any number of connections and processes serialize.
 *
 * SQLite has no notifications. An announced write appends the project to the namespace's log of changes, in the
 * same transaction; while anyone is subscribed, the store reads the changes after the last one it saw, one query
 * every `catchUpMs` for the whole namespace whatever the number of projects. Listeners of the store that made the
 * change hear it at once. A store that fell more than 1,000 changes behind (KEPT_CHANGES) calls its
 * listeners with null.
 */
export function sqliteStore (options: SqliteStoreOptions): AnonKeyStore {
  const example = 'sqliteStore({ database: new Database(\'keys.db\') })'
  checkStoreOptions('sqliteStore', options, ['database', 'namespace', 'tableName', 'catchUpMs'], example)
  const database = options.database
  requireMethods('sqliteStore', 'database', database, ['prepare', 'exec'], 'a better-sqlite3 Database or a node:sqlite DatabaseSync', `Pass ${example}.`)
  const namespace = namespaceOption('sqliteStore', options.namespace)
  const table = sqliteTableName(options.tableName ?? 'anon_key_projects')
  const catchUpMs = catchUpMsOption('sqliteStore', options.catchUpMs)
  const listeners = new Set<ChangeListener>()
  /** The subscribers' `onPoll`, told of each poll that succeeded. */
  const polled = new Map<ChangeListener, () => void>()
  let statements: Statements | null = null
  let stopPolling: (() => void) | null = null
  /** The number of the last change this store told its listeners of. */
  let lastSeen = 0

  /** Creates the tables once and prepares the statements; a failure is tried again on the next call. */
  function prepared (): Statements {
    if (statements !== null) return statements
    waitForLocks(database)
    database.exec(`CREATE TABLE IF NOT EXISTS "${table}" (
      namespace TEXT NOT NULL,
      project TEXT NOT NULL,
      version INTEGER NOT NULL,
      state TEXT NOT NULL,
      PRIMARY KEY (namespace, project)
    ) WITHOUT ROWID`)
    statements = {
      read: database.prepare(`SELECT version, state FROM "${table}" WHERE namespace = ? AND project = ?`),
      write: database.prepare(`INSERT INTO "${table}" (namespace, project, version, state) VALUES (?, ?, ?, ?)
        ON CONFLICT (namespace, project) DO UPDATE SET version = excluded.version, state = excluded.state`),
      log: changeLog(database, table, namespace),
      retired: retiredTable(database, table, namespace),
      usage: usageTables(database, table, namespace),
      locks: lockFree(database)
    }
    return statements
  }

  function read (project: string): ProjectSnapshot {
    const row = prepared().read.get(namespace, project) as Row | undefined
    if (row === undefined) return { version: 0, state: emptyProject() }
    return { version: Number(row.version), state: JSON.parse(row.state) as ProjectState }
  }

  function notifyAll (project: string | null, change?: HeardChange): void {
    for (const listener of listeners) queueMicrotask(() => listener(project, change))
  }

  /**
   * One query for every change of the namespace since the last one seen. A failure (a closed file) is tried again
   * next time; so is a file another process holds locked, which the poll never waits for.
   */
  async function poll (): Promise<void> {
    const { log, locks } = prepared()
    let changes, last
    try {
      [changes, last] = locks.now(() => {
        const since = log.since(lastSeen)
        return [since, since.length === 0 ? log.last() : lastSeen] as const
      })
    } catch (error) {
      if (isBusy(error)) return
      throw error
    }
    if (changes.length === 0) {
      // A log that went back (the file was restored from a copy) cannot tell what changed: reload everything.
      if (last < lastSeen) {
        lastSeen = last
        notifyAll(null)
      }
      return
    }
    const missed = changes[0].seq > lastSeen + 1
    lastSeen = changes[changes.length - 1].seq
    if (missed) notifyAll(null)
    else for (const change of changes) notifyAll(change.project)
  }

  /** One change in one `BEGIN IMMEDIATE` transaction, which takes the file's write lock before it reads. */
  function transaction<T> (project: string, change: (state: ProjectState) => StateChange<T>): { snapshot: ProjectSnapshot, result: T } {
    const { write, log, retired } = prepared()
    database.exec('BEGIN IMMEDIATE')
    try {
      const before = read(project)
      const step = change(before.state)
      if (!('next' in step)) {
        database.exec('COMMIT')
        return { snapshot: before, result: step.result }
      }
      const version = before.version + 1
      write.run(namespace, project, version, JSON.stringify(step.next))
      if (step.retire !== undefined) retired.retire(project, step.retire)
      const seq = step.announce === false ? null : log.append(project)
      database.exec('COMMIT')
      if (seq !== null) {
        // Heard here already: the next poll need not announce it again, unless an earlier change is still unseen.
        if (seq === lastSeen + 1) lastSeen = seq
        notifyAll(project, { version, revision: step.next.revision })
      }
      return { snapshot: { version, state: step.next }, result: step.result }
    } catch (error) {
      rollBack()
      throw error
    }
  }

  /** Ends the transaction a failed change left open; on a connection that is closed there is none to end. */
  function rollBack (): void {
    try {
      database.exec('ROLLBACK')
    } catch {}
  }

  function endPolling (): void {
    stopPolling?.()
    stopPolling = null
  }

  return markStore({
    namespace,
    async load (project) {
      return prepared().locks.retried(() => read(project))
    },
    async update (project, change) {
      // The whole transaction is one synchronous step: no other call on this connection comes in between. On
      // another connection's lock it is rolled back and run again a few milliseconds later, the event loop free.
      return prepared().locks.retried(() => transaction(project, change))
    },
    async loadRetired (project) {
      const { retired, locks } = prepared()
      return locks.retried(() => retired.load(project))
    },
    async recordUsage (project, batch) {
      const { usage, locks } = prepared()
      return locks.retried(() => {
        database.exec('BEGIN IMMEDIATE')
        try {
          usage.record(project, batch)
          database.exec('COMMIT')
        } catch (error) {
          rollBack()
          throw error
        }
      })
    },
    async loadUsage (project) {
      const { usage, locks } = prepared()
      return locks.retried(() => usage.load(project))
    },
    async subscribe (listener, subscribeOptions) {
      if (stopPolling === null) {
        lastSeen = prepared().log.last()
        const notice = journalNotice(database)
        if (notice !== null) subscribeOptions?.log?.info(notice)
        stopPolling = startCatchUp({ everyMs: catchUpMs, poll, log: subscribeOptions?.log, store: 'sqliteStore', onPoll: () => { for (const onPoll of polled.values()) onPoll() } })
      }
      listeners.add(listener)
      if (subscribeOptions?.onPoll !== undefined) polled.set(listener, subscribeOptions.onPoll)
      return async () => {
        listeners.delete(listener)
        polled.delete(listener)
        if (listeners.size === 0) endPolling()
      }
    },
    async close () {
      listeners.clear()
      polled.clear()
      endPolling()
    }
  }, 'sqlite')
}

import type { SqliteDatabase } from './database.js'

/** How long to leave the event loop to others before trying a locked file again. */
const RETRY_MS = 5

/**
 * Whether a SQLite error says another connection holds the lock this step needs (SQLITE_BUSY). better-sqlite3
 * (code SQLITE_BUSY) and node:sqlite (errcode 5) give it the same message, SQLite's own text for the code.
 */
export function isBusy (error: unknown): boolean {
  return String((error as Error | undefined)?.message) === 'database is locked'
}

export interface LockFree {
  /** Runs `step` at once; on a lock another connection holds it throws SQLITE_BUSY instead of waiting. */
  now<T> (step: () => T): T
  /**
   * Runs `step`; on a lock, tries again every few milliseconds with the event loop free meanwhile, for as long
   * as the connection's own busy timeout allows, then throws SQLITE_BUSY.
   */
  retried<T> (step: () => T): Promise<T>
}

/**
 * SQLite drivers are synchronous: a connection that meets another's lock waits for it in its busy handler with
 * the whole event loop blocked, so every key check of the app waits too (in a rollback-journal file, a writer
 * holding the lock stops every reader). These run a step with the connection's busy timeout at 0, so that it
 * fails at once, and wait, when they wait, between two turns of the event loop. The timeout the host set is put
 * back after each step.
 */
export function lockFree (database: SqliteDatabase): LockFree {
  const busyTimeout = database.prepare('PRAGMA busy_timeout')
  const timeoutNow = (): number => Number((busyTimeout.get() as { timeout: number }).timeout)

  function now<T> (step: () => T, timeout = timeoutNow()): T {
    database.exec('PRAGMA busy_timeout = 0')
    let result: T
    try {
      result = step()
    } catch (error) {
      // A step that closed the connection leaves nothing to put back; its own error is the one to tell.
      try { database.exec(`PRAGMA busy_timeout = ${timeout}`) } catch {}
      throw error
    }
    database.exec(`PRAGMA busy_timeout = ${timeout}`)
    return result
  }

  return {
    now,
    async retried (step) {
      const timeout = timeoutNow()
      const giveUpAt = performance.now() + timeout
      for (;;) {
        try {
          return now(step, timeout)
        } catch (error) {
          if (!isBusy(error) || performance.now() >= giveUpAt) throw error
        }
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS))
      }
    }
  }
}

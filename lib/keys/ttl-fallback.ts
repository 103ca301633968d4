/**
 * Whether a `cacheTtlMs` tick marks every held cache stale. A store that polls for missed changes (PostgreSQL,
 * Redis, SQLite) reports each poll that succeeded; while its polls succeed they bring every change, and a cache
 * is not reloaded for its age alone, which would cost a load of every tenant in use per `cacheTtlMs` and instance.
 * A tick with no successful poll since the one before (a store without a poll, a poll that fails or hangs, or a
 * `catchUpMs` longer than `cacheTtlMs`) applies the TTL.
 */
export class TtlFallback {
  private polled = false

  /** A poll of the store succeeded. */
  heardPoll (): void {
    this.polled = true
  }

  /** At a tick: whether the TTL applies now, for want of a successful poll since the last tick. */
  due (): boolean {
    const due = !this.polled
    this.polled = false
    return due
  }
}

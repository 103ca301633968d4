import { OptionError } from '../errors/option-errors.js'
import type { StoreLog } from './interface.js'

/** How often a store asks its backend what changed, unless its `catchUpMs` option says otherwise. */
export const DEFAULT_CATCH_UP_MS = 1000
const MIN_CATCH_UP_MS = 50
const MAX_CATCH_UP_MS = 60_000

/** The `catchUpMs` option of a store factory, checked: a whole number of milliseconds from 50 to 60,000. */
export function catchUpMsOption (factory: string, value: unknown): number {
  if (value === undefined) return DEFAULT_CATCH_UP_MS
  if (!Number.isInteger(value) || (value as number) < MIN_CATCH_UP_MS || (value as number) > MAX_CATCH_UP_MS) {
    throw new OptionError.INVALID_STORE_OPTION(`fastify-anon-key: ${factory}() option "catchUpMs" must be a whole number of milliseconds from ${MIN_CATCH_UP_MS} to ${MAX_CATCH_UP_MS}, got ${JSON.stringify(value)}. ` +
      `It bounds how long a missed change notification goes unnoticed; leave it out for ${DEFAULT_CATCH_UP_MS}.`)
  }
  return value as number
}

export interface CatchUpOptions {
  everyMs: number
  /** One small query for what changed since the last one; it calls the listeners itself. Rejects when the backend is down. */
  poll: () => Promise<void>
  /** Where a failing poll is told, once per outage. */
  log: StoreLog | undefined
  /** The store, for the log lines: 'postgresStore', 'redisStore'. */
  store: string
  /** Called after each poll that succeeded (the subscribers' `onPoll`). */
  onPoll?: () => void
}

/** How long a poll may go unanswered before it counts as failed and the next one is scheduled. */
function stuckAfterMs (everyMs: number): number {
  return Math.max(2 * everyMs, 2000)
}

/**
 * Settles as `poll` does, or rejects once `ms` have passed. A poll sent on a connection to a server that stopped
 * answering without closing it (a crashed host, a partition) never settles; waiting for it would end the polling
 * for good, long after the backend came back or failed over.
 */
function unlessStuck (poll: Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`the poll did not answer within ${ms} ms`)) }, ms)
    timer.unref()
    poll.then(resolve, reject).finally(() => { clearTimeout(timer) })
  })
}

/**
 * Polls every `everyMs` while the store has listeners, so that a change whose notification was lost (a pooler
 * that drops LISTEN, a Cluster subscriber replaced without an event, a half-open connection) is heard within
 * about `everyMs` anyway. A poll starts only after the previous one settled (or went unanswered for
 * `stuckAfterMs`), so a slow backend never gets more than one at a time. The timer never keeps the process alive.
 * Returns the function that stops it.
 */
export function startCatchUp (options: CatchUpOptions): () => void {
  let stopped = false
  let failing = false
  let timer: NodeJS.Timeout | null = null

  function schedule (): void {
    if (stopped) return
    timer = setTimeout(run, options.everyMs)
    timer.unref()
  }

  function run (): void {
    unlessStuck(options.poll(), stuckAfterMs(options.everyMs)).then(() => {
      if (failing) options.log?.info(`fastify-anon-key: ${options.store} catch-up polling works again`)
      failing = false
      options.onPoll?.()
    }, (error: unknown) => {
      if (!failing) options.log?.error({ err: error }, `fastify-anon-key: ${options.store} could not poll for missed changes; retrying every ${options.everyMs} ms, logged once until it works again`)
      failing = true
    }).finally(schedule)
  }

  schedule()
  return () => {
    stopped = true
    if (timer !== null) clearTimeout(timer)
  }
}

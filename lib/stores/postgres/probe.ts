import { randomUUID } from 'node:crypto'
import type { PgQueryable } from './client.js'
import type { StoreLog } from '../interface.js'

/** How long the store waits for its own notification before it says that LISTEN hears nothing. */
export const PROBE_MS = 2000

export interface PgProbe {
  /** Whether a notification's payload is the probe's own; it is then not a change. */
  heard (payload: unknown[]): boolean
  stop (): void
}

/**
 * Sends the store a notification of its own (`[namespace, null, id]`, which no store takes for a change) through
 * the query pool, right after LISTEN. A LISTEN made through a transaction-mode pooler hears nothing, silently: if
 * the notification has not come back within PROBE_MS, one error says so and names the option that fixes it.
 */
export function sendProbe (pool: PgQueryable, channel: string, namespace: string, log: StoreLog | undefined): PgProbe {
  const id = randomUUID()
  const timer = setTimeout(() => {
    log?.error({ channel }, `fastify-anon-key: postgresStore() did not hear its own notification within ${PROBE_MS} ms: its LISTEN connection most likely goes through a ` +
      'transaction pooler (PgBouncer pool_mode = transaction, Supavisor port 6543, a pooled Neon endpoint, RDS Proxy), where LISTEN hears nothing. ' +
      'Pass postgresStore({ pool, listenPool }) a pool on a direct or session-mode connection. Meanwhile the store polls for changes every catchUpMs.')
  }, PROBE_MS)
  timer.unref()
  const stop = (): void => { clearTimeout(timer) }
  pool.query('SELECT pg_notify($1, $2)', [channel, JSON.stringify([namespace, null, id])]).catch(stop)
  return {
    heard (payload) {
      if (payload[1] !== null) return false
      if (payload[2] === id) stop()
      return true
    },
    stop
  }
}

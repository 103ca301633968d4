import { checkedOut, type PgPool, type PgPoolClient } from './client.js'

const RETRY_FIRST_MS = 100
const RETRY_MAX_MS = 2000

export interface PgListenerOptions {
  pool: PgPool
  /** Already quoted. */
  channel: string
  /** Called with the payload of every notification on the channel. */
  onNotification: (payload: string) => void
  /** Called once after the connection came back: a notification may have been missed meanwhile. */
  onReconnected: () => void
}

/**
 * A LISTEN connection checked out of the pool for as long as it runs. When the connection drops (the server
 * restarted, the network cut it), it is discarded and a new one is tried after 100 ms, then after twice as long
 * each time up to 2 s, until one answers; then `onReconnected` is called. Errors never escape as 'error' events.
 */
export class PgListener {
  private readonly options: PgListenerOptions
  /** Discards the connection that is listening now, if any. */
  private dropCurrent: (() => void) | null = null
  private retryTimer: NodeJS.Timeout | null = null
  private retryDelay = RETRY_FIRST_MS
  private stopped = false

  constructor (options: PgListenerOptions) {
    this.options = options
  }

  /** Opens the first connection and LISTENs; rejects when that fails (nothing is retried then). */
  start (): Promise<void> {
    return this.connect()
  }

  /** Releases the connection (the pool discards it) and stops retrying. */
  stop (): void {
    this.stopped = true
    if (this.retryTimer !== null) clearTimeout(this.retryTimer)
    this.retryTimer = null
    this.dropCurrent?.()
  }

  private async connect (): Promise<void> {
    const client: PgPoolClient = checkedOut(await this.options.pool.connect())
    let dropped = false
    const drop = (): void => {
      if (dropped) return
      dropped = true
      const wasListening = this.dropCurrent === drop
      if (wasListening) this.dropCurrent = null
      client.release(true)
      if (wasListening) this.retry()
    }
    client.on('error', drop)
    client.on('end', drop)
    client.on('notification', (message: { payload: string }) => { this.options.onNotification(message.payload) })
    try {
      await client.query(`LISTEN ${this.options.channel}`)
    } catch (error) {
      drop()
      throw error
    }
    if (this.stopped) drop()
    else this.dropCurrent = drop
  }

  private retry (): void {
    if (this.stopped) return
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null
      this.connect().then(() => {
        this.retryDelay = RETRY_FIRST_MS
        this.options.onReconnected()
      }, () => {
        this.retryDelay = Math.min(this.retryDelay * 2, RETRY_MAX_MS)
        this.retry()
      })
    }, this.retryDelay)
    this.retryTimer.unref()
  }
}

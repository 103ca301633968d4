import type { RedisClient, RedisConnection } from './client.js'

/** The listeners of one Redis channel, heard on a connection of the store's own. */
export interface ChannelListener {
  /**
   * Adds a listener; opens the connection first if none is open. Resolves to a function that removes it. If
   * `deadline` aborts before the connection is ready, rejects with the connection's last error.
   */
  add (listener: (message: string | null) => void, deadline?: AbortSignal): Promise<() => void>
  /** Drops every listener and closes the connection. */
  close (): void
}

/**
 * Listens to `channel` on `client.duplicate()`, opened on the first listener and closed with the last one.
 * The user's client is never put in subscriber mode and never closed. ioredis reconnects and resubscribes by
 * itself after a cut; since a change may have been published meanwhile, every listener then hears null once.
 */
export function channelListener (client: RedisClient, channel: string): ChannelListener {
  const listeners = new Set<(message: string | null) => void>()
  let listening: { connection: RedisConnection, closing: AbortController } | null = null
  let opening: Promise<void> | null = null
  let lastError: Error | null = null

  function announce (message: string | null): void {
    for (const listener of listeners) queueMicrotask(() => listener(message))
  }

  async function open (): Promise<void> {
    const connection = client.duplicate()
    const closing = new AbortController()
    listening = { connection, closing }
    lastError = null
    // A dropped connection must never crash the process: ioredis would throw an 'error' nobody listens to. It
    // reconnects by itself, and admin calls report their own failures; the last error explains a slow start.
    connection.on('error', (error: Error) => { lastError = error })
    connection.on('message', (_channel: string, message: string) => announce(message))
    try {
      await connected(connection, closing.signal)
      await connection.subscribe(channel)
    } catch (error) {
      if (listening?.connection === connection) stop()
      throw error
    }
    connection.on('ready', () => {
      // Subscribing again (a no-op when ioredis already did) orders the announcement after the subscription.
      const missed = (): void => announce(null)
      connection.subscribe(channel).then(missed, missed)
    })
  }

  function stop (): void {
    // disconnect() alone would not settle a wait for 'ready' while ioredis is between two reconnect attempts.
    listening?.closing.abort()
    listening?.connection.disconnect()
    listening = null
    opening = null
  }

  return {
    async add (listener, deadline) {
      // Counted before the connection is ready, so that a removal meanwhile does not close it under us.
      listeners.add(listener)
      try {
        await untilAborted(opening ??= open(), deadline, () => lastError ?? new Error('fastify-anon-key: the Redis listening connection was not ready'))
      } catch (error) {
        listeners.delete(listener)
        if (listeners.size === 0) stop()
        throw error
      }
      return () => {
        listeners.delete(listener)
        if (listeners.size === 0) stop()
      }
    },
    close () {
      listeners.clear()
      stop()
    }
  }
}

/**
 * Resolves once a new connection is ready, so that the first SUBSCRIBE does not fail on a client made with
 * `enableOfflineQueue: false`, and starts a `lazyConnect` one. Rejects if the store is closed first, or if the
 * connection ends (a retryStrategy that gives up).
 */
function connected (connection: RedisConnection, closing: AbortSignal): Promise<void> {
  if (connection.status === 'wait') return connection.connect()
  return new Promise((resolve, reject) => {
    const settle = (error: Error | null): void => {
      connection.off('ready', ready)
      connection.off('end', ended)
      closing.removeEventListener('abort', closed)
      if (error === null) resolve()
      else reject(error)
    }
    const ready = (): void => settle(null)
    const ended = (): void => settle(new Error('fastify-anon-key: the Redis listening connection ended before it was ready (retryStrategy gave up)'))
    const closed = (): void => settle(new Error('fastify-anon-key: the store was closed before its Redis listening connection was ready'))
    connection.once('ready', ready)
    connection.once('end', ended)
    closing.addEventListener('abort', closed)
  })
}

/** Settles as `work` does, or rejects with `reason()` once `signal` aborts first. */
function untilAborted (work: Promise<void>, signal: AbortSignal | undefined, reason: () => Error): Promise<void> {
  if (signal === undefined) return work
  return new Promise((resolve, reject) => {
    const aborted = (): void => reject(reason())
    signal.addEventListener('abort', aborted, { once: true })
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', aborted))
  })
}

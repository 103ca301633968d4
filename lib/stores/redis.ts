import { createHash } from 'node:crypto'
import type { Cluster, Redis } from 'ioredis'
import type { AnonKeySnapshot, AnonKeyStore, PreviousKeyRecord, RevokeOutcome, RotateOutcome } from './store.js'
import { revokeState, rotateState, type KeyState } from './transitions.js'

export interface RedisStoreOptions {
  /** An ioredis client (or Cluster). The store uses it and never closes it. */
  client: Redis | Cluster
  /** Separates apps that share one Redis. Default: 'default'. */
  namespace?: string
  /** The first part of every key name, inside the hash tag. Default: 'fastify-anon-key'. */
  keyPrefix?: string
}

/**
 * Writes a new state only if nobody wrote since it was read (compare-and-set on `version`), and announces it
 * in the same script. KEYS[1] the state hash; ARGV: the version read, the current key, the previous keys as
 * JSON, the channel. Returns the new version, or -1 when the state moved on since it was read.
 */
const COMMIT_SCRIPT = `
local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if version ~= tonumber(ARGV[1]) then return -1 end
redis.call('HSET', KEYS[1], 'current', ARGV[2], 'previous', ARGV[3])
version = redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('PUBLISH', ARGV[4], version)
return version
`
const COMMIT_SHA = createHash('sha1').update(COMMIT_SCRIPT).digest('hex')
const CONFLICT = -1

/** What one attempt at a change decided: nothing to write (`unchanged`), or the state to write. */
type Step<T> = { unchanged: T } | { next: KeyState, result: (snapshot: AnonKeySnapshot) => T }

/**
 * A store on Redis. The whole state of a namespace is one hash, `{<keyPrefix>:<namespace>}:state`, with the
 * fields `version`, `current` (the current key) and `previous` (JSON: the previous keys as SHA-256 digests with
 * their times). Changes are announced on the channel `{<keyPrefix>:<namespace>}:changes`. The hash tag keeps a
 * namespace in one slot, so the store also runs on Redis Cluster.
 *
 * Atomicity: a change reads the state (one HMGET), computes the next state with the same pure transitions as
 * every other store (transitions.ts, so pruning follows retention.ts exactly), and writes it with a Lua
 * compare-and-set that fails if the version moved. On a conflict it reads again and retries until it commits.
 * Each round of contention commits one writer, so N concurrent changes all commit within N rounds.
 * WATCH/MULTI is not used: WATCH belongs to a connection, and the client is shared by concurrent calls (and by
 * the host app), so one call's EXEC would clear another call's WATCH.
 */
export function redisStore (options: RedisStoreOptions): AnonKeyStore {
  const client = options.client
  const namespace = options.namespace ?? 'default'
  const keyPrefix = options.keyPrefix ?? 'fastify-anon-key'
  if (/[{}]/.test(namespace + keyPrefix)) {
    throw new TypeError('fastify-anon-key: redisStore "namespace" and "keyPrefix" must not contain { or }, which would break the hash tag. Pick a name without braces.')
  }
  const tag = `{${keyPrefix}:${namespace}}`
  const stateKey = `${tag}:state`
  const channel = `${tag}:changes`
  const listeners = new Set<() => void>()
  let listening: { connection: Redis, closing: AbortController } | null = null
  let subscribing: Promise<void> | null = null

  async function load (): Promise<AnonKeySnapshot> {
    const [version, current, previous] = await client.hmget(stateKey, 'version', 'current', 'previous')
    return {
      version: Number(version ?? 0),
      currentKey: current,
      previousKeys: previous === null ? [] : JSON.parse(previous) as PreviousKeyRecord[]
    }
  }

  async function commit (version: number, next: KeyState): Promise<number> {
    const args = [stateKey, version, next.currentKey as string, JSON.stringify(next.previousKeys), channel]
    try {
      return await client.evalsha(COMMIT_SHA, 1, ...args) as number
    } catch (error) {
      // The server forgot the script (restart, SCRIPT FLUSH): send it whole, which caches it again.
      if (!String((error as Error).message).startsWith('NOSCRIPT')) throw error
      return await client.eval(COMMIT_SCRIPT, 1, ...args) as number
    }
  }

  async function change<T> (decide: (state: AnonKeySnapshot) => Step<T>): Promise<T> {
    for (;;) {
      const before = await load()
      const step = decide(before)
      if ('unchanged' in step) return step.unchanged
      const version = await commit(before.version, step.next)
      if (version !== CONFLICT) return step.result({ version, ...step.next })
    }
  }

  function announce (): void {
    for (const listener of listeners) queueMicrotask(listener)
  }

  /** Opens the listening connection. After a reconnect, a change may have been missed: listeners hear once. */
  async function listen (): Promise<void> {
    // Cluster.duplicate() takes other arguments than Redis.duplicate(), but none are passed here.
    const connection = (client as Redis).duplicate()
    const closing = new AbortController()
    listening = { connection, closing }
    // A dropped connection must never crash the process; ioredis reconnects and resubscribes by itself.
    connection.on('error', ignoreConnectionError)
    connection.on('message', announce)
    try {
      await connected(connection, closing.signal)
      await connection.subscribe(channel)
    } catch (error) {
      if (listening?.connection === connection) stopListening()
      throw error
    }
    connection.on('ready', () => {
      // Subscribing again (a no-op when ioredis already did) orders the announcement after the subscription.
      connection.subscribe(channel).then(announce, announce)
    })
  }

  function stopListening (): void {
    // disconnect() alone would not settle a wait for 'ready' while ioredis is between two reconnect attempts.
    listening?.closing.abort()
    listening?.connection.disconnect()
    listening = null
    subscribing = null
  }

  return {
    namespace,
    load,
    initialize (key) {
      return change<AnonKeySnapshot>((state) => state.currentKey !== null
        ? { unchanged: state }
        : { next: { currentKey: key, previousKeys: state.previousKeys }, result: (snapshot) => snapshot })
    },
    rotate (rotation) {
      return change<RotateOutcome | null>((state) => {
        const result = rotateState(state, rotation)
        if (result === null) return { unchanged: null }
        return { next: result.state, result: (snapshot) => ({ snapshot, retired: result.retired }) }
      })
    },
    revoke (revocation) {
      return change<RevokeOutcome>((state) => {
        const result = revokeState(state, revocation)
        if (result.revoked.length === 0) return { unchanged: { snapshot: state, revoked: [] } }
        return { next: result.state, result: (snapshot) => ({ snapshot, revoked: result.revoked }) }
      })
    },
    async subscribe (listener) {
      // Counted before the connection is ready, so that an unsubscribe meanwhile does not close it under us.
      listeners.add(listener)
      try {
        await (subscribing ??= listen())
      } catch (error) {
        listeners.delete(listener)
        throw error
      }
      return async () => {
        listeners.delete(listener)
        if (listeners.size === 0) stopListening()
      }
    },
    async close () {
      listeners.clear()
      stopListening()
    }
  }
}

/**
 * Resolves once a new connection is ready, so that the first SUBSCRIBE does not fail on a client made with
 * `enableOfflineQueue: false`, and starts a `lazyConnect` one. Rejects if the store is closed first, or if the
 * connection ends (a retryStrategy that gives up).
 */
function connected (connection: Redis, closing: AbortSignal): Promise<void> {
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

/** Errors of the listening connection: ioredis reconnects on its own, and admin calls report their own failures. */
function ignoreConnectionError (): void {}

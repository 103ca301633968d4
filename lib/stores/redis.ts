import type { RedisClient } from './redis-client.js'
import { channelListener } from './redis-listener.js'
import { COMMIT, RECORD_USAGE, runScript } from './redis-scripts.js'
import { OptionError } from '../option-errors.js'
import { checkStoreOptions, requireMethods } from './store-options.js'
import type { AnonKeySnapshot, AnonKeyStore, PreviousKeyRecord, RevokeOutcome, RotateOutcome } from './store.js'
import { revokeState, rotateState, type KeyState } from './transitions.js'

export interface RedisStoreOptions {
  /** An ioredis client (or Cluster). The store uses it and never closes it. */
  client: RedisClient
  /** Separates apps that share one Redis. Default: 'default'. */
  namespace?: string
  /** The first part of every key name, inside the hash tag. Default: 'fastify-anon-key'. */
  keyPrefix?: string
}

const CONFLICT = -1

/** What one attempt at a change decided: nothing to write (`unchanged`), or the state to write. */
type Step<T> = { unchanged: T } | { next: KeyState, result: (snapshot: AnonKeySnapshot) => T }

/**
 * A store on Redis. A namespace is two hashes under one hash tag, so it also runs on Redis Cluster:
 * - `{<keyPrefix>:<namespace>}:state`: `version`, `current` (the current key) and `previous` (JSON: the previous
 *   keys as SHA-256 digests with `rotatedAt`, `expiresAt`, `revokedAt`);
 * - `{<keyPrefix>:<namespace>}:usage`: `requests:<digest>` and `lastSeenAt:<digest>` (recordUsage).
 * Changes are published on the channel `{<keyPrefix>:<namespace>}:changes`, by the script that makes them.
 *
 * Atomicity: a change reads the state (one HMGET), computes the next state with the same pure transitions as
 * every other store (transitions.ts, so pruning follows retention.ts exactly), and writes it with a Lua
 * compare-and-set that fails if the version moved. On a conflict it reads again and retries until it commits.
 * Each round of contention commits one writer, so N concurrent changes all commit within N rounds.
 * WATCH/MULTI is not used: WATCH belongs to a connection, and the client is shared by concurrent calls (and by
 * the host app), so one call's EXEC would clear another call's WATCH.
 */
export function redisStore (options: RedisStoreOptions): AnonKeyStore {
  checkStoreOptions('redisStore', options, ['client', 'namespace', 'keyPrefix'], 'redisStore({ client: new Redis(process.env.REDIS_URL) })')
  requireMethods('redisStore', 'client', options.client, ['hmget', 'hgetall', 'evalsha', 'eval', 'duplicate'],
    'an ioredis client (Redis or Cluster)', 'Pass redisStore({ client: new Redis(process.env.REDIS_URL) }).')
  const client = options.client
  const namespace = options.namespace ?? 'default'
  const keyPrefix = options.keyPrefix ?? 'fastify-anon-key'
  if (/[{}]/.test(namespace + keyPrefix)) {
    throw new OptionError.INVALID_STORE_OPTION('fastify-anon-key: redisStore() options "namespace" and "keyPrefix" must not contain { or }, which would break the hash tag. Pick a name without braces.')
  }
  const tag = `{${keyPrefix}:${namespace}}`
  const keys = [`${tag}:state`, `${tag}:usage`]
  const changes = channelListener(client, `${tag}:changes`)

  async function load (): Promise<AnonKeySnapshot> {
    const [[version, current, previous], usage] = await Promise.all([
      client.hmget(keys[0], 'version', 'current', 'previous'),
      client.hgetall(keys[1])
    ])
    const records = previous === null ? [] : JSON.parse(previous) as PreviousKeyRecord[]
    for (const record of records) {
      const requests = usage[`requests:${record.digest}`]
      if (requests === undefined) continue
      record.requests = Number(requests)
      record.lastSeenAt = Number(usage[`lastSeenAt:${record.digest}`])
    }
    return { version: Number(version ?? 0), currentKey: current, previousKeys: records }
  }

  async function change<T> (decide: (state: AnonKeySnapshot) => Step<T>): Promise<T> {
    for (;;) {
      const before = await load()
      const step = decide(before)
      if ('unchanged' in step) return step.unchanged
      // Usage figures live in their own hash: the state keeps only what a change decides.
      const previous = step.next.previousKeys.map(({ digest, rotatedAt, expiresAt, revokedAt }) => ({ digest, rotatedAt, expiresAt, revokedAt }))
      const version = await runScript(client, COMMIT, keys, [before.version, step.next.currentKey as string, JSON.stringify(previous), `${tag}:changes`])
      if (version !== CONFLICT) return step.result({ version, ...step.next })
    }
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
        return { next: result.state, result: (snapshot) => ({ snapshot, retired: result.retired, evicted: result.evicted }) }
      })
    },
    revoke (revocation) {
      return change<RevokeOutcome>((state) => {
        const result = revokeState(state, revocation)
        if (result.revoked.length === 0) return { unchanged: { snapshot: state, revoked: [] } }
        return { next: result.state, result: (snapshot) => ({ snapshot, revoked: result.revoked }) }
      })
    },
    async recordUsage (reports) {
      await runScript(client, RECORD_USAGE, keys, reports.flatMap((report) => [report.digest, report.requests, report.lastSeenAt]))
    },
    async subscribe (listener) {
      const remove = await changes.add(listener)
      return async () => { remove() }
    },
    async close () {
      changes.close()
    }
  }
}

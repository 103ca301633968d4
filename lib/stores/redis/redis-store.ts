import { emptyProject, fromLegacy, type PreviousKeyRecord, type ProjectState, type RetiredKeyRecord } from '../../domain/project.js'
import { RETIRED_RECORD_LIMIT, retiredAt, type RetireKeys } from '../../domain/retention.js'
import type { RedisClient } from './client.js'
import { channelListener } from './listener.js'
import { redisChanges } from './changes.js'
import { catchUpMsOption, startCatchUp } from '../catch-up.js'
import { COMMIT, runScript } from './scripts.js'
import { redisUsage } from './usage.js'
import { watchSlots } from './slot-watch.js'
import { OptionError } from '../../errors/option-errors.js'
import { checkStoreOptions, requireMethods } from '../factory-options.js'
import { markStore } from '../kind.js'
import type { AnonKeyStore, ChangeListener, HeardChange, ProjectSnapshot, StoreLog } from '../interface.js'

export interface RedisStoreOptions {
  /** An ioredis client (or Cluster). The store uses it and never closes it. */
  client: RedisClient
  /** Separates apps that share one Redis. Default: 'default'. */
  namespace?: string
  /** The first part of every key name, inside the hash tag. Default: 'fastify-anon-key'. */
  keyPrefix?: string
  /** How often the store polls for a change whose message was lost, in ms (50 to 60,000). Default: 1000. */
  catchUpMs?: number
}

const CONFLICT = -1

/** A project's hash as read: the version it holds (0 for none) and the snapshot it stands for. */
interface Read {
  stored: number
  snapshot: ProjectSnapshot
}

/**
 * A store on Redis. One hash a project, `{<keyPrefix>:<namespace>:<project>}:state` with fields `version` and
 * `state` (the project document as JSON, previous keys as SHA-256 digests only); each project has its own hash
 * tag, so that projects spread over the slots of a Redis Cluster. Changes are published on one channel a
 * namespace, `<keyPrefix>:<namespace>:changes`, with the project as the message, by the script that makes
 * them: one subscriber connection per store hears every project. Each announced change is also recorded in the
 * namespace's change log, which a poll every `catchUpMs` reads to find a change whose message was lost (see
 * redis-changes.ts). A project's retired keys are a sorted set in the same hash tag as its state,
 * `{<keyPrefix>:<namespace>:<project>}:retired`, scored by the instant each stopped verifying, its members the
 * records as JSON (digest first, so that equal scores sort by digest); the commit script adds to it and trims
 * it, so that a Redis Cluster keeps all of a project in one slot. Its usage history is a hash and two sorted sets
 * in the same hash tag (see usage.ts), written by a script of its own.
 *
 * Atomicity: an update reads the hash (one HMGET), applies the change (the pure transitions every store
 * uses), and writes with a Lua compare-and-set that fails if the version moved; on a conflict it reads again
 * and retries. Each round of contention commits one writer, so N concurrent changes all commit within N rounds.
 * WATCH/MULTI is not used: WATCH belongs to a connection, and the client is shared by concurrent calls (and by
 * the host app), so one call's EXEC would clear another call's WATCH.
 *
 * Release 0.1 kept a namespace in `{<keyPrefix>:<namespace>}:state` (`version`, `current`, `previous`) and
 * `{<keyPrefix>:<namespace>}:usage`. While the single project's hash does not exist, those are read instead,
 * as the `default` key at their version; the first update writes the project's hash. They are left as they were.
 */
export function redisStore (options: RedisStoreOptions): AnonKeyStore {
  checkStoreOptions('redisStore', options, ['client', 'namespace', 'keyPrefix', 'catchUpMs'], 'redisStore({ client: new Redis(process.env.REDIS_URL) })')
  requireMethods('redisStore', 'client', options.client, ['hmget', 'hgetall', 'zrevrange', 'evalsha', 'eval', 'duplicate'],
    'an ioredis client (Redis or Cluster)', 'Pass redisStore({ client: new Redis(process.env.REDIS_URL) }).')
  const client = watchSlots(options.client)
  const namespace = options.namespace ?? 'default'
  const keyPrefix = options.keyPrefix ?? 'fastify-anon-key'
  if (/[{}]/.test(namespace + keyPrefix)) {
    throw new OptionError.INVALID_STORE_OPTION('fastify-anon-key: redisStore() options "namespace" and "keyPrefix" must not contain { or }, which would break the hash tag. Pick a name without braces.')
  }
  const catchUpMs = catchUpMsOption('redisStore', options.catchUpMs)
  const channel = `${keyPrefix}:${namespace}:changes`
  const namespaceTag = `{${keyPrefix}:${namespace}}`
  const changes = channelListener(client, channel)
  const listeners = new Set<ChangeListener>()
  /** The subscribers' `onPoll`, told of each poll that succeeded. */
  const polled = new Map<ChangeListener, () => void>()
  const notifyAll = (project: string | null, change?: HeardChange): void => {
    for (const listener of listeners) listener(project, change)
  }
  const missed = redisChanges(client, namespaceTag, (project, version) => {
    notifyAll(project, version === undefined ? undefined : { version })
  })
  /** A message is `<project> <version> <revision>` (a project id has no space); another message is someone else's. */
  const heardMessage = (message: string | null): void => {
    if (message === null) {
      notifyAll(null)
      return
    }
    const [project, version, revision] = message.split(' ')
    if (version === undefined) return
    notifyAll(project, { version: Number(version), revision: revision === '' ? undefined : revision })
  }
  let catchingUp: Promise<void> | null = null
  let messages: Promise<() => void> | null = null
  let stopCatchUp: (() => void) | null = null
  let log: StoreLog | undefined
  const hashOf = (project: string): string => `{${keyPrefix}:${namespace}:${project}}:state`
  const retiredOf = (project: string): string => `{${keyPrefix}:${namespace}:${project}}:retired`
  const usage = redisUsage(client, (project) => `{${keyPrefix}:${namespace}:${project}}`)

  /** The commit script's arguments for a change's retired keys: the forget instant, then score and member pairs. */
  function retiredArguments (retire: RetireKeys | undefined): Array<string | number> {
    if (retire === undefined) return ['']
    const pairs = retire.records.flatMap((record) => {
      const { digest, name, rotatedAt, expiresAt, revokedAt } = record
      return [retiredAt(record), JSON.stringify({ digest, name, rotatedAt, expiresAt, revokedAt })]
    })
    return [retire.keepAfter, ...pairs]
  }

  async function read (project: string): Promise<Read> {
    const [version, state] = await client.hmget(hashOf(project), 'version', 'state')
    if (version !== null) return { stored: Number(version), snapshot: { version: Number(version), state: JSON.parse(state as string) as ProjectState } }
    if (project !== '') return { stored: 0, snapshot: { version: 0, state: emptyProject() } }
    return { stored: 0, snapshot: await readLegacy() }
  }

  async function readLegacy (): Promise<ProjectSnapshot> {
    const [[version, current, previous], usage] = await Promise.all([
      client.hmget(`${namespaceTag}:state`, 'version', 'current', 'previous'),
      client.hgetall(`${namespaceTag}:usage`)
    ])
    if (current === null) return { version: 0, state: emptyProject() }
    const records = JSON.parse(previous as string) as PreviousKeyRecord[] // 0.1 wrote it with every key
    for (const record of records) {
      const requests = usage[`requests:${record.digest}`]
      if (requests === undefined) continue
      record.requests = Number(requests)
      record.lastSeenAt = Number(usage[`lastSeenAt:${record.digest}`])
    }
    return { version: Number(version), state: fromLegacy({ currentKey: current, previousKeys: records }, Date.now()) }
  }

  async function beginCatchUp (): Promise<void> {
    await missed.poll()
    if (listeners.size > 0) stopCatchUp ??= startCatchUp({ everyMs: catchUpMs, poll: missed.poll, log, store: 'redisStore', onPoll: () => { for (const onPoll of polled.values()) onPoll() } })
  }

  function endCatchUp (): void {
    stopCatchUp?.()
    stopCatchUp = null
    catchingUp = null
  }

  return markStore({
    namespace,
    async load (project) {
      return (await read(project)).snapshot
    },
    async update (project, change) {
      for (;;) {
        const { stored, snapshot: before } = await read(project)
        const step = change(before.state)
        if (!('next' in step)) return { snapshot: before, result: step.result }
        const version = before.version + 1
        const announce = step.announce !== false ? channel : ''
        const message = `${project} ${version} ${step.next.revision ?? ''}`
        const written = await runScript(client, COMMIT, [hashOf(project), retiredOf(project)],
          [stored, version, JSON.stringify(step.next), announce, message, ...retiredArguments(step.retire)])
        if (written === CONFLICT) continue
        // Written and published: a failure to record it must not report the change as failed.
        if (announce !== '') await missed.record(project, version).catch(() => {})
        return { snapshot: { version, state: step.next }, result: step.result }
      }
    },
    async loadRetired (project) {
      const members = await client.zrevrange(retiredOf(project), 0, RETIRED_RECORD_LIMIT - 1)
      return members.map((member) => JSON.parse(member) as RetiredKeyRecord)
    },
    recordUsage: usage.record,
    loadUsage: usage.load,
    async subscribe (listener, subscribeOptions) {
      log ??= subscribeOptions?.log
      // One message listener for all of this store's subscribers, while it has any.
      const hearing = messages ??= changes.add(heardMessage, subscribeOptions?.deadline)
      const leave = async (): Promise<void> => {
        listeners.delete(listener)
        polled.delete(listener)
        if (listeners.size > 0) return
        if (messages === hearing) messages = null
        hearing.then((remove) => { remove() }, () => {})
        endCatchUp()
      }
      listeners.add(listener)
      if (subscribeOptions?.onPoll !== undefined) polled.set(listener, subscribeOptions.onPoll)
      try {
        await hearing
        await (catchingUp ??= beginCatchUp())
      } catch (error) {
        await leave()
        throw error
      }
      return leave
    },
    async close () {
      listeners.clear()
      polled.clear()
      messages = null
      changes.close()
      endCatchUp()
    }
  }, 'redis')
}

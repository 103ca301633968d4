import type { RedisClient } from './client.js'
import { POLL, RECORD, runScript } from './scripts.js'

export interface RedisChanges {
  /** Adds an announced change, and the version it wrote, to the namespace's change log. */
  record (project: string, version: number): Promise<void>
  /**
   * One script: the projects recorded since the last poll, at most POLL_LIMIT; the next poll goes on after the
   * last one read (the first poll only learns where to start from).
   */
  poll (): Promise<void>
}

/**
 * The namespace's change log, `{<keyPrefix>:<namespace>}:sequence`, `:changed` and `:versions`, for
 * the changes whose pub/sub message was lost. On a Redis Cluster these keys hash to another slot than the
 * project's, so they cannot be written by the script that writes the project: a change is recorded right after
 * it, once it is written and published. If the process dies in between, the change is still published; only an
 * instance that missed that message too sees it late (on the project's next change, or once its caches are marked
 * stale: a lost subscriber connection, a `cacheTtlMs` period without a working poll). Redis runs commands one at a
 * time, so sequence numbers follow the order of the records, and a poll never skips one. A sequence that went
 * back (Redis restarted without persistence, a replica promoted before it had the last records) cannot tell
 * what changed: the poll reports `null` then, reload everything.
 */
export function redisChanges (client: RedisClient, tag: string, changed: (project: string | null, version?: number) => void): RedisChanges {
  const keys = [`${tag}:sequence`, `${tag}:changed`, `${tag}:versions`]
  let seen = ''

  return {
    async record (project, version) {
      await runScript(client, RECORD, keys, [project, version])
    },
    async poll () {
      const [upTo, recorded] = await runScript<[string, string[]]>(client, POLL, keys, [seen])
      const wentBack = seen !== '' && Number(upTo) < Number(seen)
      seen = upTo
      if (wentBack) changed(null)
      // With the version, an instance that holds it already (the writer, or one that heard the message) reloads nothing.
      for (let index = 0; index < recorded.length; index += 2) changed(recorded[index], recorded[index + 1] === '' ? undefined : Number(recorded[index + 1]))
    }
  }
}

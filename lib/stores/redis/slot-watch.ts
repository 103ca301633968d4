import type { RedisClient } from './client.js'

/** How long a command may go unanswered before the Cluster is asked where its slot lives now. */
export const STUCK_COMMAND_MS = 500

/** The Cluster's own refresh of its slot map (ioredis `Cluster#refreshSlotsCache`), when the client has one. */
type SlotRefresh = (callback?: (error?: Error | null) => void) => void

/**
 * A Cluster client whose commands make it refresh its slot map when they go unanswered.
 *
 * ioredis refreshes a Cluster's slot map only when a node answers with an error (MOVED, CLUSTERDOWN) or closes
 * the connection. A master that stops answering without closing it (a crashed host, a killed container whose
 * address no longer answers, a network partition) does neither: its replica takes over, yet every command for
 * its slots keeps waiting on the silent connection, and admin calls answer 503 until TCP gives up, many minutes
 * later. So a command still unanswered after STUCK_COMMAND_MS asks the Cluster for its slot map again (at most
 * once in that time); once the replica has taken over, the map names it, ioredis drops the silent node, and the
 * next command goes to the new master. A plain Redis client is returned as it is.
 */
export function watchSlots (client: RedisClient): RedisClient {
  const refresh = (client as { refreshSlotsCache?: unknown }).refreshSlotsCache
  if (typeof refresh !== 'function') return client
  let lastRefresh = -Infinity

  function refreshSlots (): void {
    if (performance.now() - lastRefresh < STUCK_COMMAND_MS) return
    lastRefresh = performance.now()
    // A refresh that fails (no node answers) is tried again by the next command that waits.
    ;(refresh as SlotRefresh).call(client, () => {})
  }

  function watched<T> (command: Promise<T>): Promise<T> {
    const timer = setTimeout(refreshSlots, STUCK_COMMAND_MS)
    timer.unref()
    const settled = (): void => { clearTimeout(timer) }
    command.then(settled, settled)
    return command
  }

  return {
    hmget: (key, ...fields) => watched(client.hmget(key, ...fields)),
    hgetall: (key) => watched(client.hgetall(key)),
    zrevrange: (key, start, stop) => watched(client.zrevrange(key, start, stop)),
    evalsha: (sha, keyCount, ...keysAndArgs) => watched(client.evalsha(sha, keyCount, ...keysAndArgs)),
    eval: (script, keyCount, ...keysAndArgs) => watched(client.eval(script, keyCount, ...keysAndArgs)),
    duplicate: () => client.duplicate()
  }
}

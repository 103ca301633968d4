import { SINGLE_PROJECT } from '../lib/domain/names.js'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { KeyCache } from '../lib/keys/project-keys.js'
import { anonKeyApp, bareApp } from './apps.js'
import { serve } from './child.js'
import { settledHeap } from './heap.js'
import { countingStore } from '../test/helpers/counting-store.js'
import { UNCOUNTED } from '../test/helpers/uncounted.js'
import { backend, uniqueNamespace } from './stores.js'
import { firstUseWritten } from './first-use.js'
import { MIRROR } from '../lib/keys/api.js'
import type { Mirror } from '../lib/keys/mirror.js'

/**
 * Child process, run with --expose-gc: heap figures, each taken after full garbage collections.
 * - the plugin's cost: an app with the plugin (memory store) against the same app without it, averaged over
 *   several live apps;
 * - the extra cost of 1,000 previous keys on record, and the in-process cache's share of it;
 * - heap after a warm-up, then after each million verifications (half through the hook, half through
 *   verify()), twice: no growth.
 */

export interface MemoryResult {
  bareApp: number
  pluginApp: number
  previousKeys: number
  withPreviousKeys: number
  cacheWithPreviousKeys: number
  verifications: number
  heapBefore: number
  heapAfter: Array<{ verifications: number, heap: number }>
  storeCalls: number
}

async function main (): Promise<void> {
  const short = process.argv.includes('--short')
  const PREVIOUS_KEYS = short ? 100 : 1000
  const VERIFICATIONS = short ? 50_000 : 500_000
  const APPS = short ? 2 : 10

  serve({
    run: async (): Promise<MemoryResult> => {
      // Warm both paths once so that loading modules and compiling code is not counted as the plugin's heap.
      for (let i = 0; i < (short ? 1 : 2); i++) {
        const warm = anonKeyApp((await backend('memory').connect(uniqueNamespace('warm'))).store)
        await warm.ready()
        for (let rotation = 0; rotation < 20; rotation++) await warm.anonKey.rotate({ gracePeriodHours: 24 })
        await warm.close()
      }
      // Per-app figures are averaged over APPS live apps: one app's heap is within the noise of a collection.
      const base = await settledHeap()
      const bares = []
      for (let i = 0; i < APPS; i++) {
        const bare = bareApp()
        await bare.ready()
        bares.push(bare)
      }
      const bareApp_ = (await settledHeap() - base) / APPS
      for (const bare of bares) await bare.close()

      const withoutPlugins = await settledHeap()
      const others = []
      for (let i = 0; i < APPS - 1; i++) {
        const other = anonKeyApp((await backend('memory').connect(uniqueNamespace('memory'))).store)
        await other.ready()
        others.push(other)
      }
      const connection = await backend('memory').connect(uniqueNamespace('memory'))
      const counting = countingStore(connection.store)
      const app = anonKeyApp(counting.store)
      await app.ready()
      const before = await settledHeap()
      const pluginApp = (before - withoutPlugins) / APPS
      for (const other of others) await other.close()
      const keys: string[] = [(await app.anonKey.get()) as string]
      for (let i = 0; i < PREVIOUS_KEYS; i++) keys.push((await app.anonKey.rotate({ gracePeriodHours: 24 })).anonKey)
      await firstUseWritten(app, keys[keys.length - 1])
      await (app.anonKey as unknown as { [MIRROR]: Mirror })[MIRROR].refresh()
      const withPreviousKeys = await settledHeap() - before

      // The cache alone: a second KeyCache over the same snapshot (the snapshot itself is held either way).
      const snapshot = await connection.store.load(SINGLE_PROJECT)
      const withoutCache = await settledHeap()
      const extraCache = new KeyCache(null, UNCOUNTED)
      extraCache.apply(snapshot)
      const cacheWithPreviousKeys = await settledHeap() - withoutCache
      if (extraCache.version !== snapshot.version) throw new Error('cache did not take the snapshot')

      // A million verifications: the current key, a previous key, an unknown key and a malformed value in turn.
      const presented = [keys[keys.length - 1], keys[keys.length >> 1], 'anon_' + 'cd'.repeat(32), 'Basic dXNlcjpwYXNz']
      const requests = presented.map((key) => ({ headers: { authorization: `Bearer ${key}` }, anonKey: null }) as unknown as FastifyRequest)
      const reply = { header () { return this } } as unknown as FastifyReply
      let passed = 0
      const done = (error?: unknown): void => { if (error === undefined) passed++ }
      await app.anonKey.verify(presented[2]) // the first unknown key loads the retired keys: one store call, before the count
      counting.reset()
      let heapBefore = 0
      const heapAfter: MemoryResult['heapAfter'] = []
      let verifications = 0
      for (let round = 0; round < 3; round++) { // round 0 warms up: compiled code is not growth
        for (let i = 0; i < VERIFICATIONS; i++) app.verifyAnonKey(requests[i & 3], reply, done)
        for (let i = 0; i < VERIFICATIONS; i++) await app.anonKey.verify(presented[i & 3])
        if (round === 0) {
          heapBefore = await settledHeap()
        } else {
          verifications += 2 * VERIFICATIONS
          heapAfter.push({ verifications, heap: await settledHeap() })
        }
      }
      if (passed !== 3 * VERIFICATIONS / 2) throw new Error(`expected ${3 * VERIFICATIONS / 2} passes, got ${passed}`)
      const storeCalls = counting.total()
      await app.close()
      return {
        bareApp: bareApp_,
        pluginApp,
        previousKeys: PREVIOUS_KEYS,
        withPreviousKeys,
        cacheWithPreviousKeys,
        verifications,
        heapBefore,
        heapAfter,
        storeCalls
      }
    }
  })
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})

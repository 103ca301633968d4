import assert from 'node:assert/strict'
import { RETIRED_RECORD_LIMIT, RETIRED_RETENTION_MS } from '../domain/retention.js'
import type { Rotated } from './key-handle.js'
import type { StoreCase } from './case.js'
import { HOUR_MS, keys, storeWithKey } from './tools.js'
import { fingerprintOfDigest } from '../domain/key.js'

export const retentionCases: StoreCase[] = [
  {
    name: 'a retired key is remembered for the retention period, then pruned',
    async run (tools) {
      const { store } = await storeWithKey(tools)
      const start = Date.now()
      const { retired } = await store.rotate({ newKey: keys(1)[0], now: start, expiresAt: start }) as Rotated
      const edge = start + RETIRED_RETENTION_MS - 1
      const kept = await store.rotate({ newKey: keys(1)[0], now: edge, expiresAt: edge + HOUR_MS }) as Rotated
      assert.ok(kept.snapshot.previousKeys.some((record) => record.digest === retired.digest), 'a retired key was pruned before the retention period ended')
      const after = start + RETIRED_RETENTION_MS
      const pruned = await store.rotate({ newKey: keys(1)[0], now: after, expiresAt: after + HOUR_MS }) as Rotated
      assert.ok(!pruned.snapshot.previousKeys.some((record) => record.digest === retired.digest), 'a retired key outlived the retention period')
      assert.equal(pruned.snapshot.previousKeys.length, 2, 'a previous key that still verifies was pruned')
    }
  },
  {
    name: `at most ${RETIRED_RECORD_LIMIT} retired keys are remembered, the most recent ones`,
    async run (tools) {
      const { store } = await storeWithKey(tools)
      const start = Date.now()
      const retired: string[] = []
      for (let i = 0; i < RETIRED_RECORD_LIMIT + 2; i++) {
        const outcome = await store.rotate({ newKey: keys(1)[0], now: start + i, expiresAt: start + i }) as Rotated
        retired.push(outcome.retired.digest)
      }
      const digests = (await store.load()).previousKeys.map((record) => record.digest)
      assert.equal(digests.length, RETIRED_RECORD_LIMIT, 'the number of retired keys on record is not the limit')
      assert.deepEqual(digests, retired.slice(2).reverse(), 'the records kept are not the most recent ones, newest first')
    }
  },
  {
    name: 'version grows on every change',
    async run (tools) {
      const store = await tools.key(tools.namespace())
      const now = Date.now()
      const versions = [(await store.load()).version]
      versions.push((await store.initialize(keys(1)[0])).version)
      const first = await store.rotate({ newKey: keys(1)[0], now, expiresAt: now + HOUR_MS }) as Rotated
      versions.push(first.snapshot.version)
      versions.push((await store.rotate({ newKey: keys(1)[0], now: now + 1, expiresAt: now + HOUR_MS }) as Rotated).snapshot.version)
      versions.push((await store.revoke({ now: now + 2, fingerprint: fingerprintOfDigest(first.retired.digest) })).snapshot.version)
      versions.push((await store.revoke({ now: now + 3 })).snapshot.version)
      for (let i = 1; i < versions.length; i++) assert.ok(versions[i] > versions[i - 1], `version did not grow: ${versions.join(', ')}`)
      assert.equal((await store.load()).version, versions[versions.length - 1], 'load reports another version than the last change')
    }
  }
]

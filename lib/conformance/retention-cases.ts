import assert from 'node:assert/strict'
import { keepRetired, RETIRED_RECORD_LIMIT, RETIRED_RETENTION_MS } from '../domain/retention.js'
import type { Rotated } from './key-handle.js'
import type { StoreCase } from './case.js'
import { HOUR_MS, keys, storeWithKey } from './tools.js'
import { fingerprintOfDigest } from '../domain/key.js'

export const retentionCases: StoreCase[] = [
  {
    name: 'a retired key leaves the document for the retired keys, is remembered for the retention period, then forgotten',
    async run (tools) {
      const { store } = await storeWithKey(tools)
      const start = Date.now()
      const { retired, snapshot } = await store.rotate({ newKey: keys(1)[0], now: start, expiresAt: start }) as Rotated
      assert.deepEqual(snapshot.previousKeys, [], 'a key that stopped verifying stayed in the document')
      assert.deepEqual(await store.retired(), [{ ...retired, name: 'default' }], 'the retired key is not among the retired keys as it was')
      assert.deepEqual(await store.store.loadRetired('another-project'), [], 'another project of the namespace sees the retired keys')
      const edge = start + RETIRED_RETENTION_MS - 1
      await store.rotate({ newKey: keys(1)[0], now: edge, expiresAt: edge + HOUR_MS })
      assert.ok((await store.retired()).some((record) => record.digest === retired.digest), 'a retired key was forgotten before the retention period ended')
      const after = start + RETIRED_RETENTION_MS
      const pruned = await store.rotate({ newKey: keys(1)[0], now: after, expiresAt: after + HOUR_MS }) as Rotated
      assert.ok(!(await store.retired()).some((record) => record.digest === retired.digest), 'a retired key outlived the retention period')
      assert.equal(pruned.snapshot.previousKeys.length, 2, 'a previous key that still verifies left the document')
    }
  },
  {
    name: 'a previous key whose grace ended without a write stays in the document until the next change retires it',
    async run (tools) {
      const { store } = await storeWithKey(tools)
      const now = Date.now()
      const { retired } = await store.rotate({ newKey: keys(1)[0], now, expiresAt: now + 10 }) as Rotated
      assert.deepEqual((await store.load()).previousKeys, [retired], 'a key still in its grace is not in the document')
      await store.rotate({ newKey: keys(1)[0], now: now + 10, expiresAt: now + HOUR_MS })
      assert.ok(!(await store.load()).previousKeys.some((record) => record.digest === retired.digest), 'the next change left the expired key in the document')
      assert.deepEqual(await store.retired(), [{ ...retired, name: 'default' }], 'the next change did not retire the expired key as expired')
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
      assert.deepEqual((await store.load()).previousKeys, [], 'the document holds retired keys')
      const digests = (await store.retired()).map((record) => record.digest)
      assert.equal(digests.length, RETIRED_RECORD_LIMIT, 'the number of retired keys on record is not the limit')
      assert.deepEqual(digests, retired.slice(2).reverse(), 'the records kept are not the most recent ones, newest first')
    }
  },
  {
    name: 'retired keys of the same instant come newest digest first, as keepRetired orders them',
    async run (tools) {
      const { store } = await storeWithKey(tools)
      const now = Date.now()
      for (let i = 0; i < 3; i++) await store.rotate({ newKey: keys(1)[0], now, expiresAt: now + HOUR_MS })
      await store.revoke({ now: now + 1 })
      const retired = await store.retired()
      const digests = retired.map((record) => record.digest)
      assert.deepEqual(digests, [...digests].sort().reverse(), 'keys retired in the same millisecond are not sorted by digest, greatest first')
      assert.deepEqual(retired, keepRetired([], { records: retired, keepAfter: 0 }), 'the retired keys are not in keepRetired\'s order')
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

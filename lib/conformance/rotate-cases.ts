import assert from 'node:assert/strict'
import { digestOf } from '../domain/key.js'
import type { Rotated } from './key-handle.js'
import type { StoreCase } from './case.js'
import { assertNotStoredInPlain } from './plain-text.js'
import { HOUR_MS, keys, storeWithKey } from './tools.js'

export const rotateCases: StoreCase[] = [
  {
    name: 'rotate makes the new key current and keeps the old one only as a digest with its expiry',
    async run (tools) {
      const { store, namespace, key: oldKey } = await storeWithKey(tools)
      const [newKey] = keys(1)
      const now = Date.now()
      const outcome = await store.rotate({ newKey, now, expiresAt: now + HOUR_MS })
      assert.ok(outcome !== null, 'rotate resolved to null on a store that holds a key')
      assert.deepEqual(outcome.retired, { digest: digestOf(oldKey), rotatedAt: now, expiresAt: now + HOUR_MS, revokedAt: null }, 'the retired record is wrong')
      assert.equal(outcome.snapshot.currentKey, newKey, 'the snapshot after rotate has another current key')
      assert.deepEqual(outcome.snapshot.previousKeys, [outcome.retired], 'the snapshot after rotate lacks the retired record')
      const loaded = await store.load()
      assert.equal(loaded.currentKey, newKey, 'load after rotate returns another current key')
      assert.deepEqual(loaded.previousKeys, [outcome.retired], 'load after rotate lacks the retired record')
      await assertNotStoredInPlain(tools, namespace, [outcome.snapshot, loaded], [oldKey])
    }
  },
  {
    name: 'rotate on an empty store resolves to null and stores nothing',
    async run (tools) {
      const store = await tools.key(tools.namespace())
      const now = Date.now()
      assert.equal(await store.rotate({ newKey: keys(1)[0], now, expiresAt: now }), null, 'rotate on an empty store did not resolve to null')
      const snapshot = await store.load()
      assert.equal(snapshot.currentKey, null, 'rotate on an empty store stored a key')
      assert.deepEqual(snapshot.previousKeys, [], 'rotate on an empty store stored a previous key')
    }
  },
  {
    name: 'a later rotation never changes an earlier previous key\'s expiry',
    async run (tools) {
      const { store } = await storeWithKey(tools)
      const now = Date.now()
      const first = await store.rotate({ newKey: keys(1)[0], now, expiresAt: now + 2 * HOUR_MS }) as Rotated
      const second = await store.rotate({ newKey: keys(1)[0], now: now + 1, expiresAt: now + HOUR_MS }) as Rotated
      const kept = second.snapshot.previousKeys.find((record) => record.digest === first.retired.digest)
      assert.deepEqual(kept, first.retired, 'the first previous key changed when the next rotation happened')
      assert.equal(second.snapshot.previousKeys.length, 2, 'a previous key was lost')
    }
  },
  {
    name: 'concurrent rotations from two instances give distinct keys, one current, and lose nothing',
    async run (tools, settings) {
      const { store: first, namespace, key: initialKey } = await storeWithKey(tools)
      const stores = [first, await tools.key(namespace)]
      const newKeys = keys(settings.concurrency)
      const now = Date.now()
      const outcomes = await Promise.all(newKeys.map((newKey, i) =>
        stores[i % 2].rotate({ newKey, now: now + i, expiresAt: now + HOUR_MS + i * 1000 })))
      const retired = new Map<string, number>()
      for (const outcome of outcomes) {
        assert.ok(outcome !== null, 'a concurrent rotation resolved to null')
        assert.ok(!retired.has(outcome.retired.digest), 'two rotations retired the same key')
        retired.set(outcome.retired.digest, outcome.retired.expiresAt)
      }
      const snapshot = await first.load()
      const current = snapshot.currentKey as string
      assert.ok(newKeys.includes(current), 'the final current key is none of the rotated-in keys')
      const expected = [initialKey, ...newKeys].filter((key) => key !== current).map(digestOf).sort()
      assert.deepEqual([...retired.keys()].sort(), expected, 'a key was never retired, or retired twice')
      assert.equal(snapshot.previousKeys.length, settings.concurrency, 'previous keys were lost or duplicated')
      for (const record of snapshot.previousKeys) {
        assert.equal(record.expiresAt, retired.get(record.digest), 'a previous key does not carry the expiry of the rotation that retired it')
      }
      await assertNotStoredInPlain(tools, namespace, [snapshot], [initialKey, ...newKeys.filter((key) => key !== current)])
    }
  }
]

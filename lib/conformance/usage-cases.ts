import assert from 'node:assert/strict'
import { digestOf } from '../domain/key.js'
import type { Rotated } from './key-handle.js'
import type { StoreCase } from './case.js'
import { HOUR_MS, keys, storeWithKey } from './tools.js'

export const usageCases: StoreCase[] = [
  {
    name: 'usage reports sum reports from every instance and drops unknown keys',
    async run (tools) {
      const { store, namespace } = await storeWithKey(tools)
      const other = await tools.key(namespace)
      const now = Date.now()
      const { retired } = await store.rotate({ newKey: keys(1)[0], now, expiresAt: now + HOUR_MS }) as Rotated
      await (store).recordUsage([{ digest: retired.digest, requests: 3, lastSeenAt: now + 20 }])
      await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? other : store).recordUsage([
        { digest: retired.digest, requests: 1, lastSeenAt: now + 10 },
        { digest: digestOf(keys(1)[0]), requests: 5, lastSeenAt: now + 30 }
      ])))
      const snapshot = await other.load()
      assert.equal(snapshot.previousKeys.length, 1, 'a report for an unknown key made a record')
      const [record] = snapshot.previousKeys
      assert.equal(record.requests, 13, 'concurrent usage reports were lost or counted twice')
      assert.equal(record.lastSeenAt, now + 20, 'lastSeenAt is not the latest report')
      assert.equal(record.expiresAt, retired.expiresAt, 'recordUsage changed the record\'s expiry')
      const later = await store.rotate({ newKey: keys(1)[0], now: now + 1, expiresAt: now + HOUR_MS }) as Rotated
      assert.equal(later.snapshot.previousKeys.find((kept) => kept.digest === retired.digest)?.requests, 13, 'a rotation lost the usage figures')
    }
  }
]

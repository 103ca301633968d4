import assert from 'node:assert/strict'
import { fingerprintOf, fingerprintOfDigest } from '../domain/key.js'
import type { PreviousKeyRecord } from '../domain/project.js'
import type { KeyHandle, Rotated } from './key-handle.js'
import type { StoreCase } from './case.js'
import { HOUR_MS, keys, storeWithKey } from './tools.js'

/** Two rotations with a grace period: two previous keys that still verify, oldest first. */
async function twoPreviousKeys (store: KeyHandle, now: number): Promise<PreviousKeyRecord[]> {
  const first = await store.rotate({ newKey: keys(1)[0], now, expiresAt: now + HOUR_MS }) as Rotated
  const second = await store.rotate({ newKey: keys(1)[0], now: now + 1, expiresAt: now + 2 * HOUR_MS }) as Rotated
  return [first.retired, second.retired]
}

export const revokeCases: StoreCase[] = [
  {
    name: 'revoke by fingerprint revokes that previous key only, once',
    async run (tools) {
      const { store } = await storeWithKey(tools)
      const now = Date.now()
      const [older, newer] = await twoPreviousKeys(store, now)
      const fingerprint = fingerprintOfDigest(older.digest)
      const outcome = await store.revoke({ now: now + 2, fingerprint })
      assert.deepEqual(outcome.revoked, [{ ...older, revokedAt: now + 2 }], 'revoke did not report exactly the named key')
      assert.deepEqual((await store.load()).previousKeys, [newer], 'the document does not hold exactly the key that still verifies')
      assert.deepEqual(await store.retired(), [{ ...older, name: 'default', revokedAt: now + 2 }], 'the revoked key is not among the retired keys as revoked')
      assert.deepEqual((await store.revoke({ now: now + 3, fingerprint })).revoked, [], 'a revoked key was revoked again')
    }
  },
  {
    name: 'revoke without a fingerprint revokes every previous key that still verifies',
    async run (tools) {
      const { store } = await storeWithKey(tools)
      const now = Date.now()
      const records = await twoPreviousKeys(store, now)
      const current = (await store.load()).currentKey
      const outcome = await store.revoke({ now: now + 2 })
      const digests = (list: PreviousKeyRecord[]): string[] => list.map((record) => record.digest).sort()
      assert.deepEqual(digests(outcome.revoked), digests(records), 'revoke all did not report every previous key')
      const loaded = await store.load()
      assert.equal(loaded.currentKey, current, 'revoke all changed the current key')
      assert.deepEqual(loaded.previousKeys, [], 'a revoked key stayed in the document')
      const retired = await store.retired()
      assert.deepEqual(digests(retired), digests(records), 'the revoked keys are not all among the retired keys')
      for (const record of retired) assert.equal(record.revokedAt, now + 2, 'a retired key is not on record as revoked')
    }
  },
  {
    name: 'revoke of an unknown fingerprint changes nothing',
    async run (tools) {
      const { store } = await storeWithKey(tools)
      const now = Date.now()
      await twoPreviousKeys(store, now)
      const before = await store.load()
      const outcome = await store.revoke({ now: now + 2, fingerprint: fingerprintOf(keys(1)[0]) })
      assert.deepEqual(outcome.revoked, [], 'an unknown fingerprint revoked something')
      assert.deepEqual(await store.load(), before, 'an unknown fingerprint changed the store')
    }
  },
  {
    name: 'revoke leaves a previous key whose grace is over as it is',
    async run (tools) {
      const { store } = await storeWithKey(tools)
      const now = Date.now()
      const { retired } = await store.rotate({ newKey: keys(1)[0], now, expiresAt: now }) as Rotated
      assert.deepEqual((await store.revoke({ now, fingerprint: fingerprintOfDigest(retired.digest) })).revoked, [], 'an expired key was revoked')
      assert.deepEqual((await store.revoke({ now })).revoked, [], 'revoke all revoked an expired key')
      assert.deepEqual((await store.load()).previousKeys, [], 'the expired key stayed in the document')
      assert.deepEqual(await store.retired(), [{ ...retired, name: 'default' }], 'the expired key\'s record changed')
    }
  }
]

import assert from 'node:assert/strict'
import { SINGLE_PROJECT } from '../domain/names.js'
import { HOUR_MS } from '../domain/time.js'
import { USAGE_HISTORY_MS, type KeyHourCount, type UsageBatch, type UsageHistory } from '../domain/usage-history.js'
import type { AnonKeyStore } from '../stores/interface.js'
import type { StoreCase } from './case.js'
import { counter, keys, sleep } from './tools.js'

/** 2030-01-01T10:00Z: times are the caller's, never the backend's, so any instant will do. */
const T0 = Date.UTC(2030, 0, 1, 10)
const DAY_MS = 24 * HOUR_MS

type HistoryStore = AnonKeyStore & Required<Pick<AnonKeyStore, 'recordUsage' | 'loadUsage'>>

/** A store keeps a usage history when it has both methods; the cases below check those that do. */
function keepsHistory (store: AnonKeyStore): store is HistoryStore {
  return typeof store.recordUsage === 'function' && typeof store.loadUsage === 'function'
}

function batch (history: Partial<UsageHistory>, now = T0): UsageBatch {
  return { verified: [], refused: [], keys: [], ...history, keepHoursFrom: now - USAGE_HISTORY_MS, keepKeysFrom: now - 30 * DAY_MS }
}

const byHour = (rows: KeyHourCount[]): KeyHourCount[] => [...rows].sort((a, b) => a.hour - b.hour || a.fingerprint.localeCompare(b.fingerprint))

export const usageHistoryCases: StoreCase[] = [
  {
    name: 'usage history: concurrent batches from two instances are summed per hour and key, none lost or counted twice',
    async run (tools) {
      const namespace = tools.namespace()
      const [one, other] = [await tools.store(namespace), await tools.store(namespace)]
      if (!keepsHistory(one) || !keepsHistory(other)) return
      const rounds = 20
      await Promise.all(Array.from({ length: rounds }, (_, i) => (i % 2 === 0 ? one : other).recordUsage(SINGLE_PROJECT, batch({
        verified: [
          { name: 'default', fingerprint: 'aaaaaaaaaaaa', hour: T0, requests: 1 },
          { name: 'default', fingerprint: 'aaaaaaaaaaaa', hour: T0 + HOUR_MS, requests: 2 },
          { name: 'default', fingerprint: 'dddddddddddd', hour: T0, requests: 5 },
          { name: 'web', fingerprint: 'bbbbbbbbbbbb', hour: T0, requests: 3 }
        ],
        refused: [{ hour: T0, code: 'ANON_KEY_EXPIRED', fingerprint: 'cccccccccccc', requests: 4 }],
        keys: [
          { name: 'default', fingerprint: 'aaaaaaaaaaaa', lastUsedAt: T0 + HOUR_MS + i, previousRequests: 1 },
          { name: 'default', fingerprint: 'dddddddddddd', lastUsedAt: T0 + 9, previousRequests: 0 },
          { name: 'web', fingerprint: 'bbbbbbbbbbbb', lastUsedAt: T0 + 5, previousRequests: 0 }
        ]
      }))))
      const history = await other.loadUsage(SINGLE_PROJECT)
      assert.deepEqual(byHour(history.verified), [
        { name: 'default', fingerprint: 'aaaaaaaaaaaa', hour: T0, requests: rounds },
        { name: 'web', fingerprint: 'bbbbbbbbbbbb', hour: T0, requests: 3 * rounds },
        { name: 'default', fingerprint: 'dddddddddddd', hour: T0, requests: 5 * rounds },
        { name: 'default', fingerprint: 'aaaaaaaaaaaa', hour: T0 + HOUR_MS, requests: 2 * rounds }
      ], 'hourly counts of concurrent batches were lost or counted twice')
      assert.deepEqual(history.refused, [{ hour: T0, code: 'ANON_KEY_EXPIRED', fingerprint: 'cccccccccccc', requests: 4 * rounds }], 'refused counts were lost or counted twice')
      assert.deepEqual([...history.keys].sort((a, b) => a.name.localeCompare(b.name) || a.fingerprint.localeCompare(b.fingerprint)), [
        { name: 'default', fingerprint: 'aaaaaaaaaaaa', lastUsedAt: T0 + HOUR_MS + rounds - 1, previousRequests: rounds },
        { name: 'default', fingerprint: 'dddddddddddd', lastUsedAt: T0 + 9, previousRequests: 0 },
        { name: 'web', fingerprint: 'bbbbbbbbbbbb', lastUsedAt: T0 + 5, previousRequests: 0 }
      ], 'a key\'s last use is not the latest reported, or its previous-key requests were not summed')
      assert.deepEqual(await one.loadUsage('tenant-a'), { verified: [], refused: [], keys: [] }, 'another project of the namespace sees the history')
      assert.deepEqual(await (await tools.store(tools.namespace())).loadUsage?.(SINGLE_PROJECT), { verified: [], refused: [], keys: [] }, 'another namespace sees the history')
    }
  },
  {
    name: 'usage history: a batch forgets the hours before keepHoursFrom and the keys last used before keepKeysFrom',
    async run (tools) {
      const store = await tools.store(tools.namespace())
      if (!keepsHistory(store)) return
      await store.recordUsage(SINGLE_PROJECT, batch({
        verified: [{ name: 'default', fingerprint: 'aaaaaaaaaaaa', hour: T0, requests: 5 }],
        refused: [{ hour: T0, code: 'ANON_KEY_REVOKED', fingerprint: 'cccccccccccc', requests: 1 }],
        keys: [{ name: 'default', fingerprint: 'aaaaaaaaaaaa', lastUsedAt: T0, previousRequests: 0 }]
      }))
      const weekLater = T0 + USAGE_HISTORY_MS + HOUR_MS
      await store.recordUsage(SINGLE_PROJECT, batch({ verified: [{ name: 'default', fingerprint: 'dddddddddddd', hour: weekLater, requests: 1 }] }, weekLater))
      let history = await store.loadUsage(SINGLE_PROJECT)
      assert.deepEqual(history.verified, [{ name: 'default', fingerprint: 'dddddddddddd', hour: weekLater, requests: 1 }], 'an hour older than 7 days was kept')
      assert.deepEqual(history.refused, [], 'a refused hour older than 7 days was kept')
      assert.equal(history.keys.length, 1, 'a key\'s last use was forgotten before keepKeysFrom')
      const monthLater = T0 + 31 * DAY_MS
      await store.recordUsage(SINGLE_PROJECT, batch({}, monthLater))
      history = await store.loadUsage(SINGLE_PROJECT)
      assert.deepEqual(history, { verified: [], refused: [], keys: [] }, 'a batch with nothing to add did not trim, or a key last used before keepKeysFrom was kept')
    }
  },
  {
    name: 'usage history stays out of the project document and is not announced',
    async run (tools) {
      const namespace = tools.namespace()
      const store = await tools.store(namespace)
      if (!keepsHistory(store)) return
      const { snapshot } = await store.update(SINGLE_PROJECT, (state) => ({ result: null, next: { ...state, keys: [] } }))
      const heard = counter()
      const unsubscribe = await (await tools.store(namespace)).subscribe(heard.listener)
      await store.recordUsage(SINGLE_PROJECT, batch({ verified: [{ name: 'default', fingerprint: keys(1)[0].slice(5, 17), hour: T0, requests: 1 }] }))
      await sleep(200)
      await unsubscribe()
      assert.deepEqual(await store.load(SINGLE_PROJECT), snapshot, 'recording usage changed the project document or its version')
      assert.equal(heard.calls, 0, 'recording usage was announced as a change')
    }
  }
]

import t from 'tap'
import { pruneRetired, RETIRED_RECORD_LIMIT, RETIRED_RETENTION_MS, type PreviousKeyRecord } from '../lib/store.js'

const NOW = Date.UTC(2030, 0, 1)
const record = (n: number, change: Partial<PreviousKeyRecord> = {}): PreviousKeyRecord =>
  ({ digest: n.toString(16).padStart(64, '0'), rotatedAt: NOW - n, expiresAt: NOW + 1000, revokedAt: null, ...change })

t.test('pruneRetired (fastify-anon-key/store) keeps valid keys first, then retired ones within retention and the limit', async (t) => {
  const valid = [record(2), record(1)]
  const recent = record(3, { expiresAt: NOW - 10 })
  const old = record(4, { revokedAt: NOW - RETIRED_RETENTION_MS })
  t.same(pruneRetired([recent, valid[1], old, valid[0]], NOW), [valid[1], valid[0], recent])
  const many = Array.from({ length: RETIRED_RECORD_LIMIT + 5 }, (_, i) => record(10 + i, { expiresAt: NOW - 1 - i }))
  const kept = pruneRetired(many, NOW)
  t.equal(kept.length, RETIRED_RECORD_LIMIT)
  t.same(kept[0], many[0], 'the most recently retired first')
})

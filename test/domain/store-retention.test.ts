import t from 'tap'
import { keepRetired, RETIRED_RECORD_LIMIT, RETIRED_RETENTION_MS, type PreviousKeyRecord, type RetiredKeyRecord } from '../../lib/stores/index.js'
import { pruneRetired } from '../../lib/domain/retention.js'

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

t.test('keepRetired (fastify-anon-key/store) appends, orders newest retirement first, forgets the old and keeps the limit', async (t) => {
  const retired = (n: number, at: number): RetiredKeyRecord => ({ ...record(n, { expiresAt: at }), name: 'default' })
  const held = Array.from({ length: RETIRED_RECORD_LIMIT }, (_, i) => retired(i + 10, NOW - 10 - i))
  const newer = retired(1, NOW)
  const kept = keepRetired(held, { records: [newer], keepAfter: 0 })
  t.equal(kept.length, RETIRED_RECORD_LIMIT, 'at most the limit')
  t.same([kept[0], kept[kept.length - 1]], [newer, held[held.length - 2]], 'the newest first, the oldest one dropped')
  const late = retired(2, NOW - 15.5) // a key whose grace ended before some held ones retired, moved out by a later write
  const merged = keepRetired(held.slice(0, 10), { records: [late], keepAfter: 0 })
  t.same(merged.map((record) => record.expiresAt), [...held.slice(0, 10).map((record) => record.expiresAt), late.expiresAt].sort((a, b) => b - a), 'sorted in')
  t.same(keepRetired(held.slice(0, 10), { records: [], keepAfter: NOW - 15 }).map((record) => record.expiresAt),
    [NOW - 10, NOW - 11, NOW - 12, NOW - 13, NOW - 14],
    'only those retired after keepAfter')
  const tied = [retired(3, NOW), retired(4, NOW)]
  t.same(keepRetired([], { records: tied, keepAfter: 0 }).map((record) => record.digest), tied.map((record) => record.digest).sort().reverse(), 'the greater digest first among equal instants')
  t.same([held.length, held[0]], [RETIRED_RECORD_LIMIT, retired(10, NOW - 10)], 'the held list is never changed')
})

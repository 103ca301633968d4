import t from 'tap'
import { digestOf, emptyProject, generateAnonKey, type ProjectState } from '../../lib/stores/index.js'
import { recordFirstUse, withEffectiveExpiry } from '../../lib/domain/first-use.js'
import { findKey, type NamedKey } from '../../lib/domain/project.js'
import { initializeProject, rotateKey } from '../../lib/domain/transitions.js'

const HOUR_MS = 3_600_000

/** A project whose `default` was rotated with a grace from the new key's first use: 2 hours, 48 at the latest. */
function rotatedFromFirstUse (): { state: ProjectState, oldKey: string, newKey: string } {
  const oldKey = generateAnonKey()
  const newKey = generateAnonKey()
  const initialized = (initializeProject(emptyProject(), { key: oldKey, now: 0 }) as { next: ProjectState }).next
  const state = (rotateKey(initialized, { name: 'default', newKey, now: HOUR_MS, expiresAt: 49 * HOUR_MS, graceMs: 2 * HOUR_MS }) as { next: ProjectState }).next
  return { state, oldKey, newKey }
}

t.test('a first use is written once, for the key that is still current, and starts the waiting grace', async (t) => {
  const { state, newKey } = rotatedFromFirstUse()
  const key = findKey(state, 'default') as NamedKey
  t.equal(key.currentKeyFirstUsedAt, null, 'a rotated-in key waits for its first use')
  t.same(withEffectiveExpiry(key).map((record) => record.expiresAt), [49 * HOUR_MS], 'until then, the old key verifies until the latest bound')

  const first = recordFirstUse(state, { name: 'default', digest: digestOf(newKey), at: 10 * HOUR_MS })
  t.equal(first.result.recorded, true)
  const used = findKey((first as { next: ProjectState }).next, 'default') as NamedKey
  t.equal(used.currentKeyFirstUsedAt, 10 * HOUR_MS)
  t.same(withEffectiveExpiry(used).map((record) => record.expiresAt), [12 * HOUR_MS], 'the old key now stops 2 hours after the first use')

  const again = recordFirstUse((first as { next: ProjectState }).next, { name: 'default', digest: digestOf(newKey), at: 11 * HOUR_MS })
  t.same(again, { result: { recorded: false } }, 'a second first use writes nothing')
})

t.test('a first use of a key that is no longer current, or of a name that is gone, writes nothing', async (t) => {
  const { state, oldKey } = rotatedFromFirstUse()
  t.same(recordFirstUse(state, { name: 'default', digest: digestOf(oldKey), at: 10 * HOUR_MS }), { result: { recorded: false } }, 'not the current key')
  t.same(recordFirstUse(state, { name: 'web', digest: digestOf(oldKey), at: 10 * HOUR_MS }), { result: { recorded: false } }, 'no such name')
})

import t, { type Test } from 'tap'
import { digestOf, fingerprintOf, generateAnonKey } from '../../lib/stores/index.js'
import { emptyProject, fromLegacy, isKeyName, isProject, isTenantId, RETIRED_RECORD_LIMIT, RETIRED_RETENTION_MS, type ProjectState, type RetireKeys, type StateChange } from '../../lib/stores/index.js'
import { findKey, keySnapshot } from '../../lib/domain/project.js'
import { pruneProject } from '../../lib/domain/retention.js'
import { createKey, deleteKey, initializeProject, isRefusal, recordUsage, revokePrevious, rotateKey, updateKey } from '../../lib/domain/transitions.js'

const HOUR_MS = 3_600_000

/** The state a change writes; fails the test when it writes nothing. */
function written<T> (t: Test, step: StateChange<T>): ProjectState {
  if (!('next' in step)) throw new Error(`expected a write, got ${JSON.stringify(step.result)}`)
  t.ok(step.next !== undefined)
  return step.next
}

function project (key = generateAnonKey(), now = 1000): ProjectState {
  return (initializeProject(emptyProject(), { key, now }) as { next: ProjectState }).next
}

t.test('initialize makes `default` once; a second candidate changes nothing', async (t) => {
  const key = generateAnonKey()
  const state = written(t, initializeProject(emptyProject(), { key, now: 5 }))
  t.same(state, { keys: [{ name: 'default', currentKey: key, previousKeys: [], description: '', allowedOrigins: null, createdAt: 5 }], changedAt: 5 })
  const again = initializeProject(state, { key: generateAnonKey(), now: 6 })
  t.notOk('next' in again, 'nothing to write')
  t.same(again.result, { created: false, key: state.keys[0] })
})

t.test('initialize refuses a key already used in the project', async (t) => {
  const web = generateAnonKey()
  const state = written(t, createKey(emptyProject(), { name: 'web', key: web, now: 1, maxKeys: 20 }))
  t.same(initializeProject(state, { key: web, now: 2 }).result, { refused: 'CONFLICT', message: 'The initial key is already used in this project.' })
})

t.test('rotate is refused for an unknown name or a key already used, and never changes the input', async (t) => {
  const key = generateAnonKey()
  const state = project(key)
  const copy = structuredClone(state)
  t.match(rotateKey(state, { name: 'ios', newKey: generateAnonKey(), now: 2, expiresAt: 3 }).result, { refused: 'NOT_FOUND' })
  t.match(rotateKey(state, { name: 'default', newKey: key, now: 2, expiresAt: 3 }).result, { refused: 'CONFLICT' })
  written(t, rotateKey(state, { name: 'default', newKey: generateAnonKey(), now: 2, expiresAt: 3 }))
  t.same(state, copy, 'the state given is left as it was')
})

t.test('rotate beyond maxPreviousKeys revokes the oldest valid previous keys and names them', async (t) => {
  let state = project()
  const retired: string[] = []
  for (let i = 0; i < 2; i++) {
    const step = rotateKey(state, { name: 'default', newKey: generateAnonKey(), now: 10 + i, expiresAt: 10 * HOUR_MS, maxPreviousKeys: 2 })
    const result = step.result as { retired: { digest: string }, capped: unknown[] }
    retired.push(result.retired.digest)
    t.same(result.capped, [], 'no cap while within the limit')
    state = written(t, step)
  }
  const step = rotateKey(state, { name: 'default', newKey: generateAnonKey(), now: 20, expiresAt: 10 * HOUR_MS, maxPreviousKeys: 1 })
  const result = step.result as { capped: Array<{ digest: string, revokedAt: number | null }> }
  t.same(result.capped.map((record) => [record.digest, record.revokedAt]), [[retired[0], 20], [retired[1], 20]], 'the two oldest, oldest first')
  const valid = written(t, step).keys[0].previousKeys.filter((record) => record.revokedAt === null)
  t.equal(valid.length, 1, 'one previous key still verifies: the newest')
})

t.test('revoke names the key, and revokes nothing for an unknown name', async (t) => {
  t.match(revokePrevious(project(), { name: 'web', now: 1 }).result, { refused: 'NOT_FOUND' })
  const step = revokePrevious(project(), { name: 'default', now: 1 })
  t.notOk('next' in step, 'no previous key: nothing to write')
})

t.test('createKey checks the name, the names in use, maxKeys and the key, and keeps names sorted', async (t) => {
  const state = project()
  t.match(createKey(state, { name: 'Web', key: generateAnonKey(), now: 1, maxKeys: 20 }).result, { refused: 'INVALID_INPUT', message: /Web/ })
  t.match(createKey(state, { name: 'default', key: generateAnonKey(), now: 1, maxKeys: 20 }).result, { refused: 'CONFLICT', message: /already exists/ })
  t.match(createKey(state, { name: 'web', key: generateAnonKey(), now: 1, maxKeys: 1 }).result, { refused: 'CONFLICT', message: /maxKeys/ })
  t.match(createKey(state, { name: 'web', key: state.keys[0].currentKey, now: 1, maxKeys: 20 }).result, { refused: 'CONFLICT', message: /already used/ })
  const withWeb = written(t, createKey(state, { name: 'web', key: generateAnonKey(), now: 1, maxKeys: 20, description: 'the web app', allowedOrigins: ['https://a.com'] }))
  const withBoth = written(t, createKey(withWeb, { name: 'android', key: generateAnonKey(), now: 2, maxKeys: 20 }))
  t.same(withBoth.keys.map((key) => key.name), ['android', 'default', 'web'])
  t.match(findKey(withBoth, 'web'), { description: 'the web app', allowedOrigins: ['https://a.com'], createdAt: 1 })
  t.match(findKey(withBoth, 'android'), { description: '', allowedOrigins: null })
})

t.test('updateKey changes only what it is given; null lifts the origin restriction', async (t) => {
  const state = written(t, createKey(project(), { name: 'web', key: generateAnonKey(), now: 1, maxKeys: 20, allowedOrigins: ['https://a.com'] }))
  t.match(updateKey(state, { name: 'ios' }).result, { refused: 'NOT_FOUND' })
  const described = written(t, updateKey(state, { name: 'web', description: 'new' }))
  t.match(findKey(described, 'web'), { description: 'new', allowedOrigins: ['https://a.com'] })
  const open = written(t, updateKey(described, { name: 'web', allowedOrigins: null }))
  t.match(findKey(open, 'web'), { description: 'new', allowedOrigins: null })
  t.equal(findKey(open, 'web')?.currentKey, findKey(state, 'web')?.currentKey, 'the key stays')
})

t.test('deleteKey refuses default, revokes every key of the name and retires them with the name', async (t) => {
  const webKey = generateAnonKey()
  let state = written(t, createKey(project(), { name: 'web', key: webKey, now: 1, maxKeys: 20 }))
  const expired = rotateKey(state, { name: 'web', newKey: generateAnonKey(), now: 2, expiresAt: 2 })
  state = written(t, expired)
  const valid = rotateKey(state, { name: 'web', newKey: generateAnonKey(), now: 3, expiresAt: 3 + HOUR_MS })
  state = written(t, valid)
  t.match(deleteKey(state, { name: 'default', now: 4 }).result, { refused: 'CONFLICT' })
  t.match(deleteKey(state, { name: 'ios', now: 4 }).result, { refused: 'NOT_FOUND' })
  const step = deleteKey(state, { name: 'web', now: 4 })
  const result = step.result as { revoked: Array<{ digest: string }> }
  const after = written(t, step)
  t.same(after.keys.map((key) => key.name), ['default'])
  t.same(result.revoked.map((record) => record.digest), [digestOf(findKey(state, 'web')?.currentKey as string), (valid.result as any).retired.digest], 'the current key and the valid previous key')
  t.same(after, { keys: [state.keys[0]], changedAt: 4 }, 'nothing of the name stays in the document')
  const retired = (step as { retire: RetireKeys }).retire
  const described = (records: Array<{ digest: string }>, revokedAt: number | null): string[] => records.map((record) => `web ${record.digest} ${revokedAt}`).sort()
  t.same(retired.records.map((record) => `${record.name} ${record.digest} ${record.revokedAt}`).sort(), described(result.revoked, 4), 'the revoked keys, with the name')
  t.equal(retired.keepAfter, 4 - RETIRED_RETENTION_MS, 'what was retired before the retention period is forgotten')
  const late = deleteKey(state, { name: 'web', now: 3 + HOUR_MS }) as { retire: RetireKeys }
  t.same(late.retire.records.find((record) => record.digest === (valid.result as any).retired.digest)?.revokedAt, null,
    'a key whose grace ended since the last write is retired as expired, not revoked')
  const expiredRetire = (expired as { retire: RetireKeys }).retire
  t.same(expiredRetire.records.map((record) => [record.name, record.digest, record.revokedAt]), [['web', digestOf(webKey), null]], 'the expired key was retired by the write after its grace, as expired')
})

t.test('recordUsage adds reports (several for one digest too) and drops unknown digests; unannounced', async (t) => {
  const old = generateAnonKey()
  const state = written(t, rotateKey(project(old), { name: 'default', newKey: generateAnonKey(), now: 1, expiresAt: HOUR_MS }))
  const digest = digestOf(old)
  const step = recordUsage(state, [{ digest, requests: 2, lastSeenAt: 9 }, { digest, requests: 3, lastSeenAt: 5 }, { digest: 'f'.repeat(64), requests: 1, lastSeenAt: 1 }])
  t.same(step.result, { recorded: 1 })
  t.equal((step as { announce?: boolean }).announce, false)
  t.match(written(t, step).keys[0].previousKeys[0], { requests: 5, lastSeenAt: 9 })
  const twice = written(t, rotateKey(written(t, step), { name: 'default', newKey: generateAnonKey(), now: 2, expiresAt: HOUR_MS }))
  t.same(written(t, recordUsage(twice, [{ digest, requests: 1, lastSeenAt: 3 }])).keys[0].previousKeys.map((record) => record.requests ?? 0), [0, 6],
    'a previous key without a report keeps its figures')
  const again = recordUsage(written(t, step), [{ digest, requests: 1, lastSeenAt: 4 }])
  t.match(written(t, again).keys[0].previousKeys[0], { requests: 6, lastSeenAt: 9 }, 'a second batch adds to the figures the document holds')
  t.notOk('next' in recordUsage(state, [{ digest: 'f'.repeat(64), requests: 1, lastSeenAt: 1 }]), 'nothing landed: no write')
})

t.test('a write keeps only keys that verify in the document: every other record of every name leaves it, with its name', async (t) => {
  let state = written(t, createKey(project(), { name: 'web', key: generateAnonKey(), now: 0, maxKeys: 20 }))
  state = written(t, rotateKey(state, { name: 'web', newKey: generateAnonKey(), now: 1, expiresAt: 1 + HOUR_MS }))
  state = written(t, rotateKey(state, { name: 'default', newKey: generateAnonKey(), now: 2, expiresAt: 2 + HOUR_MS }))
  const step = rotateKey(state, { name: 'default', newKey: generateAnonKey(), now: 3 + HOUR_MS, expiresAt: 3 + 2 * HOUR_MS })
  const after = written(t, step)
  t.same(after.keys.map((key) => key.previousKeys.length), [1, 0], 'only the rotation still in its grace stays')
  const { records } = (step as { retire: RetireKeys }).retire
  t.same(records.map((record) => [record.name, record.expiresAt]), [['default', 2 + HOUR_MS], ['web', 1 + HOUR_MS]], 'both names\' expired keys, newest retirement first')
  t.same(Object.keys(records[0]).sort(), ['digest', 'expiresAt', 'name', 'revokedAt', 'rotatedAt'], 'a retired record carries no usage figures')
  const late = pruneProject(after, 3 + 2 * HOUR_MS + RETIRED_RETENTION_MS)
  t.same(late, { state: { keys: after.keys.map((key) => ({ ...key, previousKeys: [] })) }, retired: [] }, 'a key retired longer ago than the retention period is not retired again')
  const many = { keys: after.keys, deletedKeys: Array.from({ length: RETIRED_RECORD_LIMIT + 3 }, (_, i) => ({ name: 'gone', digest: i.toString(16).padStart(64, '0'), rotatedAt: 0, expiresAt: i, revokedAt: null })) }
  const { retired } = pruneProject(many, 10_000)
  t.equal(retired.length, RETIRED_RECORD_LIMIT, `at most ${RETIRED_RECORD_LIMIT} records leave in one write`)
  t.equal(retired[0].expiresAt, RETIRED_RECORD_LIMIT + 2, 'the newest first')
})

t.test('a 0.1 state (as its memory store held it) becomes the default key, nothing lost', async (t) => {
  const current = generateAnonKey()
  const old = generateAnonKey()
  const legacy = {
    version: 7,
    currentKey: current,
    previousKeys: [{ digest: digestOf(old), rotatedAt: 100, expiresAt: 200, revokedAt: null, requests: 4, lastSeenAt: 150 }]
  }
  const state = fromLegacy(legacy, 999)
  t.same(state.keys, [{ name: 'default', currentKey: current, previousKeys: legacy.previousKeys, description: '', allowedOrigins: null, createdAt: 100 }])
  t.same(keySnapshot(legacy.version, state), legacy, 'the default key reads back exactly as 0.1 held it')
  t.equal(fromLegacy({ currentKey: current, previousKeys: [] }, 999).keys[0].createdAt, 999, 'no rotation on record: made now')
  t.same(fromLegacy({ currentKey: null, previousKeys: [] }, 1), emptyProject())
  t.same(keySnapshot(3, emptyProject(), 'web'), { version: 3, currentKey: null, previousKeys: [] })
})

t.test('names and tenant ids', async (t) => {
  t.ok(isKeyName('web') && isKeyName('a' + 'b'.repeat(31)) && !isKeyName('1web') && !isKeyName('a'.repeat(33)) && !isKeyName(5))
  t.ok(isTenantId('Acme.prod_1-x') && !isTenantId('') && !isTenantId('a/b') && !isTenantId('x'.repeat(65)))
  t.ok(isProject('') && isProject('acme') && !isProject(null))
  t.ok(isRefusal({ refused: 'NOT_FOUND', message: '' }) && !isRefusal(null) && !isRefusal({ key: 1 }))
  t.equal(fingerprintOf(generateAnonKey()).length, 12)
})

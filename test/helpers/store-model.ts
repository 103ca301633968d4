import { SINGLE_PROJECT } from '../../lib/domain/names.js'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { fingerprintOf, generateAnonKey } from '../../lib/domain/key.js'
import { KeyCache, NEEDS_RETIRED } from '../../lib/keys/project-keys.js'
import { UNCOUNTED } from './uncounted.js'
import { RETIRED_RETENTION_MS } from '../../lib/domain/retention.js'
import type { AnonKeyStore } from '../../lib/stores/interface.js'
import { keyHandle, type Rotated } from '../../lib/conformance/index.js'
import { HOUR_MS } from './clock.js'
import { KeyModel, snapshotProblem } from './model.js'

/** One step of a generated run. `pick` chooses among the keys seen so far (modulo), or a key never issued. */
export type Step =
  | { kind: 'initialize' }
  | { kind: 'rotate', graceMs: number }
  | { kind: 'rotateConcurrently', graceMs: number[] }
  | { kind: 'revokeOne', pick: number }
  | { kind: 'revokeAll' }
  | { kind: 'advance', ms: number }
  | { kind: 'toBoundary', pick: number, delta: -1 | 0 | 1 }

const graceMs = fc.oneof(
  fc.constant(0),
  fc.integer({ min: 1, max: 10_000 }),
  fc.integer({ min: 1, max: 720 }).map((hours) => hours * HOUR_MS)
)

export const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  { weight: 1, arbitrary: fc.constant({ kind: 'initialize' as const }) },
  { weight: 5, arbitrary: graceMs.map((ms) => ({ kind: 'rotate' as const, graceMs: ms })) },
  { weight: 1, arbitrary: fc.array(graceMs, { minLength: 2, maxLength: 4 }).map((ms) => ({ kind: 'rotateConcurrently' as const, graceMs: ms })) },
  { weight: 2, arbitrary: fc.nat().map((pick) => ({ kind: 'revokeOne' as const, pick })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'revokeAll' as const }) },
  {
    weight: 3,
    arbitrary: fc.oneof(
      fc.integer({ min: 0, max: 5000 }),
      fc.integer({ min: 1, max: 2000 }).map((hours) => hours * HOUR_MS),
      fc.constant(RETIRED_RETENTION_MS)
    ).map((ms) => ({ kind: 'advance' as const, ms }))
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('toBoundary' as const), pick: fc.nat(), delta: fc.constantFrom(-1 as const, 0 as const, 1 as const) }) }
)

/** A run: a few steps that may come before any key exists, an initialization, then the rest. */
export function runArbitrary (maxSteps: number): fc.Arbitrary<Step[]> {
  return fc.tuple(fc.array(stepArbitrary, { maxLength: 2 }), fc.array(stepArbitrary, { minLength: 5, maxLength: maxSteps, size: 'medium' }))
    .map(([before, after]) => [...before, { kind: 'initialize' as const }, ...after])
}

/** Applies a time step to `now`: never backwards. */
export function nextInstant (model: KeyModel, step: Step & ({ kind: 'advance' } | { kind: 'toBoundary' }), now: number): number {
  if (step.kind === 'advance') return now + step.ms
  const boundaries = model.boundaries()
  if (boundaries.length === 0) return now
  const target = boundaries[step.pick % boundaries.length] + step.delta
  return Math.max(now, target)
}

/** The fingerprint a revokeOne step names: a key seen in the run (current ones too), or one never issued. */
export function pickedFingerprint (model: KeyModel, pick: number): string {
  const index = pick % (model.known.length + 1)
  return fingerprintOf(index === model.known.length ? generateAnonKey() : model.known[index])
}

/**
 * Checks a cache that took the store's snapshot against the model: every key the run has seen, a key never
 * issued and a malformed one, at `now`. The retired keys are loaded from `backend` when the cache asks for them.
 */
export async function checkCache (cache: KeyCache, backend: AnonKeyStore, model: KeyModel, now: number): Promise<void> {
  for (const key of [...model.known, generateAnonKey(), 'anon_' + 'G'.repeat(64)]) {
    const expected = model.expect(key, now)
    let entry = cache.lookup(key, now)
    if (entry === NEEDS_RETIRED) {
      await cache.loadRetired(() => backend.loadRetired(SINGLE_PROJECT))
      entry = cache.lookupLoaded(key, now)
    }
    const actual = typeof entry === 'string' ? { valid: false, code: entry } : entry.result
    const wanted = expected.valid
      ? { valid: true, role: 'anon', name: 'default', fingerprint: fingerprintOf(key), expiresAt: expected.expiresAt === null ? null : new Date(expected.expiresAt).toISOString() }
      : expected
    assert.deepEqual(actual, wanted, `verifying ${fingerprintOf(key)} at ${new Date(now).toISOString()}`)
  }
}

/** Rotations that ran at once: the outcomes must form one chain from the old current key, and the model follows it. */
export function followChain (model: KeyModel, outcomes: Array<{ newKey: string, expiresAt: number, retiredFingerprint: string }>, now: number): void {
  const remaining = [...outcomes]
  while (remaining.length > 0) {
    const current = fingerprintOf(model.current as string)
    const index = remaining.findIndex((outcome) => outcome.retiredFingerprint === current)
    assert.notEqual(index, -1, 'concurrent rotations did not form one chain: a rotation retired a key that was never current')
    const [outcome] = remaining.splice(index, 1)
    model.rotate(outcome.newKey, now, outcome.expiresAt)
  }
}

/**
 * Runs `steps` on `store` through the store interface, with explicit instants, and checks after every step:
 * the snapshot against the model (current key, previous records and their expiry, no previous key in plain
 * text, versions that never go back) and a KeyCache fed with that snapshot against the model's answers.
 * Resolves to the model, so that a caller can scan the backend for the keys it knows.
 */
export async function runStoreModel (backend: AnonKeyStore, steps: Step[], start: number): Promise<KeyModel> {
  const store = keyHandle(backend)
  const model = new KeyModel()
  const cache = new KeyCache(null, UNCOUNTED)
  let now = start
  let version = -1
  for (const step of steps) {
    let changed = false
    switch (step.kind) {
      case 'initialize': {
        const candidate = generateAnonKey()
        const wasEmpty = model.current === null
        const snapshot = await store.initialize(candidate, now)
        model.initialize(candidate)
        changed = wasEmpty
        assert.equal(snapshot.currentKey, model.current, 'initialize resolves to the key that is current afterwards')
        break
      }
      case 'rotate': {
        const newKey = generateAnonKey()
        const expiresAt = now + step.graceMs
        const outcome = await store.rotate({ newKey, now, expiresAt })
        const expected = model.rotate(newKey, now, expiresAt)
        if (expected === null) {
          assert.equal(outcome, null, 'rotating an empty store resolves to null')
        } else {
          assert.notEqual(outcome, null, 'rotating an initialized store resolves to its outcome')
          const { retired } = outcome as Rotated
          assert.deepEqual(retired, { digest: expected.digest, rotatedAt: now, expiresAt, revokedAt: null }, 'the retired record')
          changed = true
        }
        break
      }
      case 'rotateConcurrently': {
        const changes = step.graceMs.map((ms) => ({ newKey: generateAnonKey(), now, expiresAt: now + ms }))
        const outcomes = await Promise.all(changes.map((change) => store.rotate(change)))
        if (model.current === null) {
          assert.deepEqual(outcomes, changes.map(() => null), 'rotating an empty store resolves to null')
        } else {
          followChain(model, outcomes.map((outcome, i) => {
            assert.notEqual(outcome, null, 'every concurrent rotation succeeds')
            const { retired } = outcome as Rotated
            assert.equal(retired.expiresAt, changes[i].expiresAt, 'a rotation retires with its own expiry')
            return { newKey: changes[i].newKey, expiresAt: changes[i].expiresAt, retiredFingerprint: retired.digest.slice(0, 12) }
          }), now)
          changed = true
        }
        break
      }
      case 'revokeOne':
      case 'revokeAll': {
        const fingerprint = step.kind === 'revokeOne' ? pickedFingerprint(model, step.pick) : undefined
        const outcome = await store.revoke({ now, fingerprint })
        const expected = model.revoke(now, fingerprint)
        assert.deepEqual(outcome.revoked.map((record) => record.digest).sort(), expected.map((record) => record.digest).sort(), 'the revoked records')
        for (const record of outcome.revoked) assert.equal(record.revokedAt, now, 'a revoked record carries the instant')
        changed = expected.length > 0
        break
      }
      default:
        now = nextInstant(model, step, now)
    }
    const snapshot = await store.load()
    assert.ok(changed ? snapshot.version > version : snapshot.version >= version,
      `version ${snapshot.version} after ${step.kind}, was ${version}: it must ${changed ? 'grow on a change' : 'never go back'}`)
    version = snapshot.version
    // The model knows every previous key; the store holds the valid ones in the document, the others apart.
    const retired = await backend.loadRetired(SINGLE_PROJECT)
    const problem = snapshotProblem(model, { ...snapshot, previousKeys: [...snapshot.previousKeys, ...retired] }, now)
    assert.equal(problem, null, `after ${step.kind}: ${String(problem)}`)
    cache.apply(await backend.load(SINGLE_PROJECT))
    await checkCache(cache, backend, model, now)
  }
  return model
}

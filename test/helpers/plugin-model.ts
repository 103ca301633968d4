import assert from 'node:assert/strict'
import Fastify, { type FastifyInstance } from 'fastify'
import anonKey from '../../lib/index.js'
import type { RotatedEvent, RevokedEvent } from '../../lib/index.js'
import { fingerprintOf, generateAnonKey } from '../../lib/domain/key.js'
import { SINGLE_PROJECT } from '../../lib/domain/names.js'
import type { AnonKeyStore } from '../../lib/stores/interface.js'
import { bearer, internalsOf, JWT_SECRET } from './app.js'
import { eventually } from './eventually.js'
import { HOUR_MS, type FakeClock } from './clock.js'
import { KeyModel } from './model.js'
import { followChain, nextInstant, pickedFingerprint, type Step } from './store-model.js'

/** Everything the instances said during a run, to be scanned for keys. */
export interface Observed {
  logs: string[]
  events: Array<RotatedEvent | RevokedEvent>
}

/** An instance of a host app on `store`, with a guarded route and its logs and events captured. */
export async function startInstance (store: AnonKeyStore, observed: Observed): Promise<FastifyInstance> {
  const app = Fastify({ logger: { level: 'info', stream: { write: (line: string) => { observed.logs.push(line) } } } })
  await app.register(anonKey, { jwt: { secret: JWT_SECRET }, store, autoInitialize: false, storeTimeoutMs: 2000 })
  app.get('/data', { onRequest: app.verifyAnonKey }, async (request) => ({ anonKey: request.anonKey }))
  await app.ready()
  app.anonKey.on('rotated', (event: RotatedEvent) => { observed.events.push(event) })
  app.anonKey.on('revoked', (event: RevokedEvent) => { observed.events.push(event) })
  return app
}

/** The grace a step asks the plugin for: 0, the default (undefined), or whole hours. */
function graceHours (graceMs: number): number | undefined {
  if (graceMs === 0) return 0
  if (graceMs < HOUR_MS) return undefined
  return Math.round(graceMs / HOUR_MS)
}

/** Resolves once every instance's cache holds the store's latest snapshot; fails after `timeoutMs`. */
async function settle (apps: FastifyInstance[], store: AnonKeyStore, timeoutMs: number): Promise<void> {
  const { version } = await store.load(SINGLE_PROJECT)
  await eventually(`every instance hearing of version ${version}`, () => apps.every((app) => internalsOf(app).single!.version >= version), timeoutMs, { pollMs: 1 })
}

async function rejectionCode (promise: Promise<unknown>): Promise<string> {
  try {
    await promise
  } catch (error: any) {
    return error.code
  }
  return 'resolved'
}

/**
 * Runs `steps` through `app.anonKey` of several instances sharing `store` (each change on the next instance in
 * turn), with Date.now driven by `clock`. After every step and once every instance heard of the change:
 * app.anonKey.verify on every instance agrees with the model for every key seen, one request through
 * verifyAnonKey agrees too, and listPrevious names exactly the previous keys that still verify.
 */
export async function runPluginModel (
  apps: FastifyInstance[],
  store: AnonKeyStore,
  steps: Step[],
  clock: FakeClock,
  observed: Observed,
  settleMs: number
): Promise<void> {
  const model = new KeyModel()
  for (const [index, step] of steps.entries()) {
    const app = apps[index % apps.length]
    const now = clock.now()
    switch (step.kind) {
      case 'initialize': {
        const { anonKey: key } = await app.anonKey.initialize()
        if (model.current === null) model.initialize(key)
        assert.equal(key, model.current, 'initialize resolves to the current key')
        break
      }
      case 'rotate': {
        const hours = graceHours(step.graceMs)
        if (model.current === null) {
          assert.equal(await rejectionCode(app.anonKey.rotate({ gracePeriodHours: hours })), 'ANON_KEY_NOT_INITIALIZED')
          break
        }
        const result = await app.anonKey.rotate({ gracePeriodHours: hours })
        const expiresAt = now + (hours ?? 168) * HOUR_MS
        assert.equal(result.oldKeyExpiresAt, new Date(expiresAt).toISOString(), 'the old key expires after the grace asked for')
        model.rotate(result.anonKey, now, expiresAt)
        break
      }
      case 'rotateConcurrently': {
        if (model.current === null) break
        const results = await Promise.all(step.graceMs.map((ms, i) =>
          apps[(index + i) % apps.length].anonKey.rotate({ gracePeriodHours: graceHours(ms) })))
        const retiredBy = new Map<string, string>()
        for (const event of observed.events) if ('newFingerprint' in event) retiredBy.set(event.newFingerprint, event.oldFingerprint)
        followChain(model, results.map((result, i) => ({
          newKey: result.anonKey,
          expiresAt: now + (graceHours(step.graceMs[i]) ?? 168) * HOUR_MS,
          retiredFingerprint: retiredBy.get(fingerprintOf(result.anonKey)) as string
        })), now)
        break
      }
      case 'revokeOne':
      case 'revokeAll': {
        const fingerprint = step.kind === 'revokeOne' ? pickedFingerprint(model, step.pick) : undefined
        const expected = model.revoke(now, fingerprint)
        if (fingerprint !== undefined && expected.length === 0) {
          assert.equal(await rejectionCode(app.anonKey.revokePrevious(fingerprint)), 'NOT_FOUND', 'revoking an unknown fingerprint')
        } else {
          const result = await app.anonKey.revokePrevious(fingerprint)
          assert.equal(result.revoked, expected.length, 'the number of keys revoked')
        }
        break
      }
      default:
        clock.set(nextInstant(model, step, now))
    }
    await settle(apps, store, settleMs)
    await checkInstances(apps, model, clock.now(), index)
  }
  const leaked = leakedKey(model, observed)
  assert.equal(leaked, null, `key ${String(leaked)} was written whole to a log line or an event`)
}

async function checkInstances (apps: FastifyInstance[], model: KeyModel, now: number, index: number): Promise<void> {
  const keys = [...model.known, generateAnonKey()]
  for (const app of apps) {
    for (const key of keys) {
      const expected = model.expect(key, now)
      const result = await app.anonKey.verify(key)
      if (expected.valid) {
        const expiresAt = expected.expiresAt === null ? null : new Date(expected.expiresAt).toISOString()
        assert.deepEqual(result, { valid: true, role: 'anon', name: 'default', fingerprint: fingerprintOf(key), expiresAt }, `key ${fingerprintOf(key)} at ${new Date(now).toISOString()}`)
      } else {
        assert.deepEqual(result, expected, `key ${fingerprintOf(key)} at ${new Date(now).toISOString()}`)
      }
    }
  }
  const key = keys[index % keys.length]
  const expected = model.expect(key, now)
  const response = await apps[index % apps.length].inject({ url: '/data', headers: bearer(key) })
  if (expected.valid) {
    assert.equal(response.statusCode, 200, `a request with key ${fingerprintOf(key)}: ${response.body}`)
  } else {
    assert.equal(response.statusCode, 401)
    assert.equal(response.json().error, expected.code, `a request with key ${fingerprintOf(key)}`)
  }
  const listed = await apps[index % apps.length].anonKey.listPrevious()
  assert.deepEqual(listed.map((entry) => [entry.fingerprint, entry.expiresAt]),
    model.validPrevious(now).sort((a, b) => b.rotatedAt - a.rotatedAt).map((record) => [record.digest.slice(0, 12), new Date(record.expiresAt).toISOString()]),
    'listPrevious names exactly the previous keys that still verify')
}

/** A key that ever appeared in the run, found whole (its 64 hex characters) in a log line or an event. */
function leakedKey (model: { known: string[] }, observed: Observed): string | null {
  const text = observed.logs.join('\n') + JSON.stringify(observed.events)
  for (const key of model.known) if (text.includes(key.slice(5))) return fingerprintOf(key)
  return null
}

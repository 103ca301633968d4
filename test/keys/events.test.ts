import Fastify from 'fastify'
import t from 'tap'
import { adminHeaders, adminToken, bearer, currentKey, JWT_SECRET, revoke, rotate, startApp, useKey } from '../helpers/app.js'
import anonKey, { type RevokedEvent, type RotatedEvent } from '../../lib/index.js'
import { fingerprintOf } from '../../lib/stores/index.js'

const WHOLE_KEY = /anon_[0-9a-f]{64}/
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

t.test('a rotation emits rotated with actor, grace, expiry and fingerprints, never a whole key', async (t) => {
  const app = await startApp(t)
  const events: RotatedEvent[] = []
  app.anonKey.on('rotated', (event: RotatedEvent) => events.push(event))
  const old = await currentKey(app)
  const response = await app.inject({
    method: 'POST',
    url: '/api/secrets/anon-key/rotate',
    headers: { authorization: `Bearer ${adminToken({ sub: 'user-42' })}`, 'content-type': 'application/json' },
    payload: '{"gracePeriodHours": 12}'
  })
  const { anonKey: newKey, oldKeyExpiresAt } = response.json()
  t.equal(events.length, 1)
  const [event] = events
  t.same(Object.keys(event).sort(), ['actor', 'evictedFingerprints', 'gracePeriodHours', 'graceStartsAt', 'name', 'newFingerprint', 'oldFingerprint', 'oldKeyExpiresAt', 'rotatedAt'])
  t.equal(event.name, 'default')
  t.same(event.evictedFingerprints, [], 'a rotation within maxPreviousKeys revokes nothing')
  t.equal(event.actor, 'user-42')
  t.equal(event.gracePeriodHours, 12)
  t.equal(event.graceStartsAt, 'rotation')
  t.equal(event.oldKeyExpiresAt, oldKeyExpiresAt)
  t.match(event.rotatedAt, ISO)
  t.equal(Date.parse(event.oldKeyExpiresAt) - Date.parse(event.rotatedAt), 12 * 3_600_000)
  t.equal(event.oldFingerprint, fingerprintOf(old))
  t.equal(event.newFingerprint, fingerprintOf(newKey))
  t.notMatch(JSON.stringify(event), /anon_/, 'the event never holds a key')
})

t.test('a rotation from code emits rotated with the actor it names, or null', async (t) => {
  const app = await startApp(t)
  const events: RotatedEvent[] = []
  app.anonKey.on('rotated', (event: RotatedEvent) => events.push(event))
  await app.anonKey.rotate({ gracePeriodHours: 0 }, { actor: 'deploy-script' })
  await app.anonKey.rotate()
  t.same(events.map((event) => [event.actor, event.gracePeriodHours]), [['deploy-script', 0], [null, 168]])
})

t.test('revoking all emits revoked with scope all, the count and the fingerprints', async (t) => {
  const app = await startApp(t)
  const events: RevokedEvent[] = []
  app.anonKey.on('revoked', (event: RevokedEvent) => events.push(event))
  const first = await currentKey(app)
  await rotate(app)
  const second = await currentKey(app)
  await rotate(app)
  await revoke(app)
  t.equal(events.length, 1)
  const [event] = events
  t.same(Object.keys(event).sort(), ['actor', 'fingerprints', 'name', 'revoked', 'revokedAt', 'scope'])
  t.equal(event.actor, 'admin-1')
  t.equal(event.scope, 'all')
  t.equal(event.revoked, 2)
  t.same([...event.fingerprints].sort(), [fingerprintOf(first), fingerprintOf(second)].sort())
  t.match(event.revokedAt, ISO)
  t.notMatch(JSON.stringify(event), /anon_/)
})

t.test('revoking one emits revoked with scope one and its fingerprint', async (t) => {
  const app = await startApp(t)
  const events: RevokedEvent[] = []
  app.anonKey.on('revoked', (event: RevokedEvent) => events.push(event))
  const old = await currentKey(app)
  await rotate(app)
  await app.inject({ method: 'DELETE', url: `/api/secrets/anon-key/previous/${fingerprintOf(old)}`, headers: { authorization: `Bearer ${adminToken({ sub: 'sec-team' })}` } })
  t.same(events.map(({ actor, scope, revoked, fingerprints }) => ({ actor, scope, revoked, fingerprints })),
    [{ actor: 'sec-team', scope: 'one', revoked: 1, fingerprints: [fingerprintOf(old)] }])
})

t.test('a refused rotation or revocation emits nothing', async (t) => {
  const app = await startApp(t)
  let emitted = 0
  app.anonKey.on('rotated', () => { emitted += 1 })
  app.anonKey.on('revoked', () => { emitted += 1 })
  await rotate(app, { gracePeriodHours: null })
  await revoke(app, '0123456789ab')
  await app.inject({ method: 'POST', url: '/api/secrets/anon-key/rotate' })
  t.equal(emitted, 0)
})

t.test('no log line holds a whole key across a rotate, verify, revoke session', async (t) => {
  const lines: string[] = []
  const app = Fastify({ logger: { level: 'trace', stream: { write: (line: string) => { lines.push(line) } } } })
  t.teardown(() => app.close())
  app.register(anonKey, { jwt: { secret: JWT_SECRET }, apiKeyHeader: true })
  app.get('/data', { onRequest: (request, reply, done) => app.verifyAnonKey(request, reply, done) }, async () => ({ ok: true }))
  await app.ready()

  const first = await currentKey(app)
  await app.inject({ method: 'POST', url: '/api/secrets/anon-key/rotate', headers: { ...adminHeaders(), 'content-type': 'application/json' }, payload: '{"gracePeriodHours": 1}' })
  const second = await currentKey(app)
  await app.inject({ method: 'POST', url: '/api/secrets/anon-key/rotate', headers: { ...adminHeaders(), 'content-type': 'application/json' }, payload: '{"gracePeriodHours": 0}' })
  const third = await currentKey(app)
  for (const key of [first, second, third]) {
    await useKey(app, key)
    await app.inject({ url: '/data', headers: { apikey: key } })
    await app.inject({ url: '/data', headers: { authorization: `bearer ${key}` } })
    await app.anonKey.verify(key)
  }
  await app.inject({ url: '/api/metadata/anon-key', headers: bearer(third) }) // an anon key as the admin token
  await app.inject({ method: 'DELETE', url: `/api/secrets/anon-key/previous/${fingerprintOf(first)}`, headers: adminHeaders() })
  await revoke(app)
  await app.inject({ url: '/api/secrets/anon-key/previous', headers: adminHeaders() })
  await app.close()

  const log = lines.join('')
  t.ok(lines.length > 20, `the logger should have written the session; it wrote ${lines.length} lines`)
  t.match(log, /anon key rotated/, 'rotations are logged')
  t.match(log, /previous anon keys revoked/, 'revocations are logged')
  t.match(log, new RegExp(fingerprintOf(first)), 'keys are named by fingerprint')
  const leaked = lines.filter((line) => WHOLE_KEY.test(line))
  t.same(leaked, [], 'a log line held a whole key')
})

t.test('the rotation log line names the fingerprints and the actor', async (t) => {
  const lines: any[] = []
  const logged = Fastify({ logger: { stream: { write: (line: string) => { lines.push(JSON.parse(line)) } } } })
  t.teardown(() => logged.close())
  logged.register(anonKey, { jwt: { secret: JWT_SECRET } })
  await logged.ready()
  await logged.anonKey.rotate({ gracePeriodHours: 1 }, { actor: 'ops' })
  const line = lines.find((entry) => entry.msg === 'anon key rotated')
  t.match(line, { actor: 'ops', gracePeriodHours: 1, oldFingerprint: /^[0-9a-f]{12}$/, newFingerprint: /^[0-9a-f]{12}$/ })
  t.ok(lines.some((entry) => entry.msg === 'anon key initialized' && /^[0-9a-f]{12}$/.test(entry.fingerprint)), 'start-up logs the new key by fingerprint')
})

t.test('a throwing event listener is logged and does not fail the change it reports', async (t) => {
  const lines: any[] = []
  const logged = Fastify({ logger: { stream: { write: (line: string) => { lines.push(JSON.parse(line)) } } } })
  t.teardown(() => logged.close())
  logged.register(anonKey, { jwt: { secret: JWT_SECRET } })
  await logged.ready()
  const before = await logged.anonKey.get()
  logged.anonKey.on('rotated', () => { throw new Error('audit sink down') })
  logged.anonKey.on('revoked', () => { throw new Error('audit sink down') })
  const rotated = await logged.inject({ method: 'POST', url: '/api/secrets/anon-key/rotate', headers: adminHeaders() })
  t.equal(rotated.statusCode, 200, `the rotation happened, so the admin must be told so; got ${rotated.body}`)
  t.not(await logged.anonKey.get(), before)
  t.same(await logged.anonKey.revokePrevious(), { success: true, revoked: 1 })
  t.equal(lines.filter((entry) => /listener of the anon key "(rotated|revoked)" event threw/.test(entry.msg)).length, 2)
})

t.test('an async listener whose promise rejects is logged; the change stands and the process goes on', async (t) => {
  const lines: any[] = []
  let unhandled = 0
  const onUnhandled = (): void => { unhandled++ }
  process.on('unhandledRejection', onUnhandled)
  t.teardown(() => { process.off('unhandledRejection', onUnhandled) })
  const logged = Fastify({ logger: { stream: { write: (line: string) => { lines.push(JSON.parse(line)) } } } })
  t.teardown(() => logged.close())
  logged.register(anonKey, { jwt: { secret: JWT_SECRET } })
  await logged.ready()
  const before = await logged.anonKey.get()
  logged.anonKey.on('rotated', async () => { throw new Error('audit write failed') })
  logged.anonKey.on('revoked', () => Promise.reject(new Error('audit write failed')))
  const rotated = await logged.inject({ method: 'POST', url: '/api/secrets/anon-key/rotate', headers: adminHeaders() })
  t.equal(rotated.statusCode, 200, `the rotation happened, so the admin must be told so; got ${rotated.body}`)
  t.not(await logged.anonKey.get(), before)
  t.same(await logged.anonKey.revokePrevious(), { success: true, revoked: 1 })
  await new Promise((resolve) => setImmediate(resolve))
  const reported = lines.filter((entry) => /listener of the anon key "(rotated|revoked)" event rejected/.test(entry.msg))
  t.equal(reported.length, 2, 'both rejections are logged')
  t.match(reported[0], { level: 50, err: { message: 'audit write failed' } })
  t.equal(unhandled, 0, 'no rejection reached the process')
})
